/*-------------------------------------------------------------------------
 *
 * fetch.c
 *		  Fetching a table's rows: request sets, each paged to its end.
 *
 * A scan turns its quals (and, for a child table, its parent's rows) into
 * request sets: the variables and query parameters of one logical request.
 * Each set is paged with the table's pagination until the provider says
 * there is no more; then the next set starts.  Rows come back a page at a
 * time; a page lives in the per-page memory context, which is reset (not
 * freed piece by piece) when the next page is fetched.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"

static void prefetch_first_pages(TableFetch *f);
static void fetch_ahead(TableFetch *f);
static void drop_ahead(TableFetch *f);

/* {name} in a template, replaced by the request variable of that name. */
char *
scaler_fill_template(const char *tmpl, List *var_names, const char *const *var_values,
					 TemplateEscape escape, const char *table)
{
	StringInfoData buf;
	const char *p = tmpl;

	initStringInfo(&buf);
	while (*p)
	{
		const char *open = strchr(p, '{');
		const char *close;
		char	   *name;
		const char *value = NULL;
		ListCell   *lc;
		int			i = 0;
		size_t		namelen;

		if (open == NULL)
		{
			appendStringInfoString(&buf, p);
			break;
		}
		/* A placeholder is {name}; any other brace (a JSON body's) is text. */
		namelen = strspn(open + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		close = open + 1 + namelen;
		if (namelen == 0 || *close != '}')
		{
			appendBinaryStringInfo(&buf, p, open - p + 1);
			p = open + 1;
			continue;
		}
		appendBinaryStringInfo(&buf, p, open - p);
		name = pnstrdup(open + 1, close - open - 1);
		foreach(lc, var_names)
		{
			if (strcmp((char *) lfirst(lc), name) == 0 && var_values)
				value = var_values[i];
			i++;
		}
		if (value == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
					 errmsg("table \"%s\" needs a value for \"%s\" to build its request", table, name),
					 errhint("Add WHERE %s = '...' (or IN (...)) to the query.", name)));
		if (escape == ESCAPE_JSON)
		{
			StringInfoData q;

			initStringInfo(&q);
			escape_json(&q, value);
			/* The template's own quotes surround the placeholder. */
			appendBinaryStringInfo(&buf, q.data + 1, q.len - 2);
		}
		else if (escape == ESCAPE_URL)
		{
			char	   *esc = curl_easy_escape(NULL, value, 0);

			if (esc == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory")));
			appendStringInfoString(&buf, esc);
			curl_free(esc);
		}
		else
			appendStringInfoString(&buf, value);
		p = close + 1;
	}
	return buf.data;
}

/* Does the template use {name} for some name? */
bool
scaler_template_has_vars(const char *tmpl)
{
	const char *open = strchr(tmpl, '{');

	return open && strchr(open, '}');
}

void
fetch_init(TableFetch *f, const ScalerServerOptions *srv, const ScalerTableSpec *spec,
		   RecordExtractor *ex, int natts, List *var_names, List *sets, MemoryContext parent)
{
	memset(f, 0, sizeof(*f));
	f->natts = natts;
	f->srv = srv;
	f->spec = spec;
	f->ex = ex;
	f->var_names = var_names;
	f->cxt = AllocSetContextCreate(parent, "scaler_fdw fetch", ALLOCSET_DEFAULT_SIZES);
	f->page_cxt = AllocSetContextCreate(f->cxt, "scaler_fdw page", ALLOCSET_DEFAULT_SIZES);
	scaler_http_init_response(&f->resp, f->cxt, srv->max_response_bytes);
	fetch_restart(f, sets);
}

/* Start again from the first page of the first of these request sets. */
void
fetch_restart(TableFetch *f, List *sets)
{
	MemoryContextReset(f->page_cxt);
	memset(&f->page, 0, sizeof(f->page));
	/* Pages fetched ahead for the old sets are of no use now. */
	drop_ahead(f);
	if (f->prefetched)
	{
		for (int i = 0; i < list_length(f->sets); i++)
			if (f->prefetched[i])
				MemoryContextDelete(f->prefetched[i]->body.cxt);
		pfree(f->prefetched);
		f->prefetched = NULL;
	}
	f->next_row = 0;
	f->sets = sets;
	f->set_index = -1;
	f->set_done = true;
}

static void
start_set(TableFetch *f)
{
	const ScalerPaginationSpec *pg = &f->spec->pagination;

	drop_ahead(f);
	f->set_index++;
	f->set_done = false;
	f->pages_in_set = 0;
	f->next_url = NULL;
	f->cursor = NULL;
	f->page_no = pg->start;
	f->offset = 0;
	f->request_sets_run++;
	prefetch_first_pages(f);
}

/* The URL of the next page of request set set_index (its first, if first). */
static char *
page_url(TableFetch *f, int set_index, bool first)
{
	const ScalerTableSpec *spec = f->spec;
	const ScalerPaginationSpec *pg = &spec->pagination;
	RequestSet *set = (RequestSet *) list_nth(f->sets, set_index);
	List	   *names = NIL;
	List	   *values = NIL;
	ListCell   *a,
			   *b;
	int64		page_no = first ? pg->start : f->page_no;
	int64		offset = first ? 0 : f->offset;
	char	   *cursor = first ? NULL : f->cursor;

	if (!first && f->next_url)
		return f->next_url;

	forboth(a, spec->query_names, b, spec->query_values)
	{
		names = lappend(names, lfirst(a));
		values = lappend(values, scaler_fill_template((char *) lfirst(b), f->var_names,
													  (const char *const *) set->var_values,
													  ESCAPE_NONE, spec->name));
	}
	names = list_concat(names, set->param_names);
	values = list_concat(values, set->param_values);

	switch (pg->kind)
	{
		case PAGINATE_PAGE:
			names = lappend(names, pg->param);
			values = lappend(values, psprintf(INT64_FORMAT, page_no));
			break;
		case PAGINATE_OFFSET:
			names = lappend(names, pg->param);
			values = lappend(values, psprintf(INT64_FORMAT, offset));
			break;
		case PAGINATE_CURSOR:
			if (cursor)
			{
				names = lappend(names, pg->param);
				values = lappend(values, cursor);
			}
			break;
		default:
			break;
	}
	if (pg->size_param)
	{
		/* A pushed LIMIT smaller than a page asks for no more than it needs. */
		int			size = f->limit > 0 && f->limit < pg->size ? (int) f->limit : pg->size;

		names = lappend(names, pg->size_param);
		values = lappend(values, psprintf("%d", size));
	}
	return scaler_url_with_params(f->srv,
								  scaler_join_url(f->srv->base_url,
												  scaler_fill_template(spec->path, f->var_names,
																	   (const char *const *) set->var_values,
																	   ESCAPE_URL, spec->name)),
								  names, values);
}

/* The request of one page: the table's method, headers and body, filled in. */
static void
table_request(TableFetch *f, RequestSet *set, const char *url, ScalerRequest *req)
{
	const ScalerTableSpec *spec = f->spec;
	ListCell   *a,
			   *b;

	memset(req, 0, sizeof(*req));
	req->method = spec->method;
	req->url = url;
	req->api_auth = true;
	forboth(a, spec->header_names, b, spec->header_values)
	{
		req->header_names = lappend(req->header_names, lfirst(a));
		req->header_values = lappend(req->header_values,
									 scaler_fill_template((char *) lfirst(b), f->var_names,
														  (const char *const *) set->var_values,
														  ESCAPE_NONE, spec->name));
	}
	if (spec->body)
	{
		req->body = scaler_fill_template(spec->body, f->var_names,
										 (const char *const *) set->var_values,
										 ESCAPE_JSON, spec->name);
		req->content_type = "application/json";
	}
}

static void
page_limit_error(TableFetch *f, const char *next)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("table \"%s\" reached max_pages (%d) with more pages to fetch",
					f->spec->name, f->spec->pagination.max_pages),
			 next ? errdetail("The next page would have been %s.", scaler_display_url(f->srv, next)) : 0,
			 errhint("Raise the option \"max_pages\", or narrow the query.")));
}

/* Fetch and parse the next page of the current set; decide what comes after it. */
static void
fetch_page(TableFetch *f)
{
	const ScalerServerOptions *srv = f->srv;
	const ScalerPaginationSpec *pg = &f->spec->pagination;
	RequestSet *set = (RequestSet *) list_nth(f->sets, f->set_index);
	MemoryContext old;
	char	   *url;
	char	   *desc;
	char	   *next = NULL;
	bool		more = false;

	ScalerHttpResponse *resp = &f->resp;
	MemoryContext prefetch_cxt = NULL;

	MemoryContextReset(f->page_cxt);
	old = MemoryContextSwitchTo(f->page_cxt);

	url = page_url(f, f->set_index, f->pages_in_set == 0);
	if (pg->max_pages > 0 && f->pages_in_set >= pg->max_pages)
		page_limit_error(f, url);
	desc = psprintf("GET %s on server \"%s\"", scaler_display_url(srv, url), srv->servername);

	if (f->pages_in_set == 0 && f->prefetched && f->prefetched[f->set_index])
	{
		/* Fetched together with the first pages of the sets after it. */
		resp = f->prefetched[f->set_index];
		prefetch_cxt = resp->body.cxt;
		f->prefetched[f->set_index] = NULL;
	}
	else if (f->ahead_urls != NIL && strcmp((char *) linitial(f->ahead_urls), url) == 0)
	{
		/* Fetched ahead with the next pages of this set. */
		resp = (ScalerHttpResponse *) linitial(f->ahead_resps);
		prefetch_cxt = resp->body.cxt;
		f->ahead_urls = list_delete_first(f->ahead_urls);
		f->ahead_resps = list_delete_first(f->ahead_resps);
	}
	else
	{
		ScalerRequest req;

		table_request(f, set, url, &req);
		scaler_http_request(srv, &req, resp, &f->stats);
	}
	scaler_http_report_status(srv, url, resp);
	f->pages++;
	f->pages_in_set++;

	if (resp->status == 204)
		memset(&f->page, 0, sizeof(f->page));
	else
		records_parse_page(f->ex, resp->body.data, resp->body.len, &f->page, desc,
						   (const char *const *) set->var_values);
	f->next_row = 0;
	f->rows += f->page.nrows;

	switch (pg->kind)
	{
		case PAGINATE_NONE:
			break;
		case PAGINATE_NEXT_URL:
		case PAGINATE_NEXT_LINK:
			if (f->page.next_url)
			{
				char	   *link = f->page.next_url;

				/* Portfolio Manager's links are paths below the API root, not the host's. */
				if (pg->links_from_base_url && link[0] == '/' && link[1] != '/')
				{
					int			n = strlen(srv->base_url);

					link = psprintf("%.*s%s", srv->base_url[n - 1] == '/' ? n - 1 : n,
									srv->base_url, link);
				}
				next = scaler_resolve_next_url(srv, resp->final_url, url, link);
			}
			break;
		case PAGINATE_LINK_HEADER:
			{
				char	   *link = scaler_link_next(resp);

				if (link)
					next = scaler_resolve_next_url(srv, resp->final_url, url, link);
				break;
			}
		case PAGINATE_PAGE:
			/* Stop on an empty page, or at the total number of pages if given. */
			more = f->page.nrows > 0 &&
				(f->page.total < 0 || f->page_no + 1 - pg->start < f->page.total);
			break;
		case PAGINATE_OFFSET:
			more = f->page.nrows > 0 &&
				(f->page.total < 0 || f->offset + f->page.nrows < f->page.total);
			break;
		case PAGINATE_CURSOR:
			more = f->page.nrows > 0 && f->page.cursor != NULL;
			if (more && f->cursor && strcmp(f->cursor, f->page.cursor) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("pagination loop: the response to %s returned the cursor it was given", desc)));
			break;
	}
	if (next != NULL && strcmp(next, url) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("pagination loop: the response to %s names itself as the next page", desc),
				 errhint("Check the table's pagination against the provider's API.")));

	/* Pagination state outlives the page: keep it in the fetch context. */
	MemoryContextSwitchTo(f->cxt);
	f->next_url = next ? pstrdup(next) : NULL;
	if (pg->kind == PAGINATE_PAGE && more)
		f->page_no++;
	if (pg->kind == PAGINATE_OFFSET && more)
		f->offset += f->page.nrows;
	if (pg->kind == PAGINATE_CURSOR && more)
		f->cursor = pstrdup(f->page.cursor);
	f->set_done = !(next != NULL || more);
	if (!f->set_done && pg->max_pages > 0 && f->pages_in_set >= pg->max_pages)
		page_limit_error(f, f->next_url);
	MemoryContextSwitchTo(old);
	/* The page is parsed into datums: its body is no longer needed. */
	if (prefetch_cxt)
		MemoryContextDelete(prefetch_cxt);
	if (!f->set_done)
		fetch_ahead(f);
}

static void
drop_ahead(TableFetch *f)
{
	ListCell   *lc;

	foreach(lc, f->ahead_resps)
		MemoryContextDelete(((ScalerHttpResponse *) lfirst(lc))->body.cxt);
	list_free(f->ahead_resps);
	list_free(f->ahead_urls);
	f->ahead_resps = NIL;
	f->ahead_urls = NIL;
}

/*
 * Pages whose addresses are known in advance (page numbers up to a known
 * total; offsets, when the provider gives full pages and a total) are
 * fetched max_concurrency at a time, in order, ahead of the one being read.
 */
static void
fetch_ahead(TableFetch *f)
{
	const ScalerPaginationSpec *pg = &f->spec->pagination;
	int			n = 0;
	int			cap = f->srv->max_concurrency;
	char	  **urls;
	ScalerRequest *reqs;
	ScalerHttpResponse **resps;
	int64		saved_page = f->page_no;
	int64		saved_offset = f->offset;
	int64		last;
	MemoryContext old;

	if (cap <= 1 || f->ahead_urls != NIL || f->page.total < 0 ||
		strcmp(f->spec->method, "GET") != 0)
		return;
	if (pg->kind == PAGINATE_PAGE)
		last = f->page.total - 1 + pg->start;	/* the last page number */
	else if (pg->kind == PAGINATE_OFFSET && pg->size > 0 && f->page.nrows == pg->size)
		last = f->page.total - 1;	/* the last record's offset */
	else
		return;

	old = MemoryContextSwitchTo(f->cxt);
	urls = palloc(sizeof(char *) * cap);
	resps = palloc(sizeof(ScalerHttpResponse *) * cap);
	for (; n < cap; n++)
	{
		MemoryContext cxt;

		if (pg->kind == PAGINATE_PAGE && f->page_no > last)
			break;
		if (pg->kind == PAGINATE_OFFSET && f->offset > last)
			break;
		if (pg->max_pages > 0 && f->pages_in_set + n >= pg->max_pages)
			break;
		cxt = AllocSetContextCreate(f->cxt, "scaler_fdw page fetched ahead", ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(cxt);
		resps[n] = palloc0(sizeof(ScalerHttpResponse));
		scaler_http_init_response(resps[n], cxt, f->srv->max_response_bytes);
		urls[n] = page_url(f, f->set_index, false);
		MemoryContextSwitchTo(f->cxt);
		f->ahead_urls = lappend(f->ahead_urls, urls[n]);
		f->ahead_resps = lappend(f->ahead_resps, resps[n]);
		if (pg->kind == PAGINATE_PAGE)
			f->page_no++;
		else
			f->offset += pg->size;
	}
	f->page_no = saved_page;
	f->offset = saved_offset;
	if (n > 1)
	{
		reqs = palloc(sizeof(ScalerRequest) * n);
		for (int i = 0; i < n; i++)
			table_request(f, (RequestSet *) list_nth(f->sets, f->set_index), urls[i], &reqs[i]);
		scaler_http_get_batch(f->srv, reqs, resps, n, &f->stats);
	}
	else
		drop_ahead(f);			/* one page: fetched in turn as usual */
	MemoryContextSwitchTo(old);
}

/*
 * Fetch the first pages of the next request sets at once, up to
 * max_concurrency of them: a fan-out over many meters waits for one round
 * trip per batch, not per meter.
 */
static void
prefetch_first_pages(TableFetch *f)
{
	int			nsets = list_length(f->sets);
	int			n = 0;
	ScalerRequest *reqs;
	ScalerHttpResponse **resps;
	MemoryContext old;

	if (f->srv->max_concurrency <= 1 || nsets - f->set_index < 2 ||
		(f->prefetched && f->prefetched[f->set_index]) ||
		strcmp(f->spec->method, "GET") != 0)
		return;
	old = MemoryContextSwitchTo(f->cxt);
	if (f->prefetched == NULL)
		f->prefetched = palloc0(sizeof(ScalerHttpResponse *) * nsets);
	reqs = palloc(sizeof(ScalerRequest) * f->srv->max_concurrency);
	resps = palloc(sizeof(ScalerHttpResponse *) * f->srv->max_concurrency);
	for (int i = f->set_index; i < nsets && n < f->srv->max_concurrency; i++)
	{
		MemoryContext cxt = AllocSetContextCreate(f->cxt, "scaler_fdw prefetched page",
												  ALLOCSET_DEFAULT_SIZES);

		MemoryContextSwitchTo(cxt);
		resps[n] = palloc0(sizeof(ScalerHttpResponse));
		scaler_http_init_response(resps[n], cxt, f->srv->max_response_bytes);
		/* each set with its own variables in its headers */
		table_request(f, (RequestSet *) list_nth(f->sets, i), page_url(f, i, true), &reqs[n]);
		f->prefetched[i] = resps[n];
		n++;
	}
	MemoryContextSwitchTo(f->cxt);
	scaler_http_get_batch(f->srv, reqs, resps, n, &f->stats);
	MemoryContextSwitchTo(old);
}

/*
 * The next row, as datums pointing into the page context, or false at the
 * end.  The caller's previous row becomes invalid.
 */
/* Does the row belong to the request set that fetched it? */
static bool
row_in_set(const RequestSet *set, const Datum *values, const bool *nulls)
{
	ListCell   *lc;

	foreach(lc, set->checks)
	{
		const SetCheck *c = (const SetCheck *) lfirst(lc);

		if (nulls[c->attidx])
			continue;			/* the local quals decide about NULLs */
		if (c->is_time)
		{
			TimestampTz t = DatumGetTimestampTz(values[c->attidx]);

			if ((c->has_lo && t < c->lo) || (c->has_hi && t >= c->hi))
				return false;
		}
		else
		{
			text	   *v = DatumGetTextPP(values[c->attidx]);

			if (VARSIZE_ANY_EXHDR(v) != strlen(c->text) ||
				memcmp(VARDATA_ANY(v), c->text, VARSIZE_ANY_EXHDR(v)) != 0)
				return false;
		}
	}
	return true;
}

bool
fetch_next(TableFetch *f, Datum **values, bool **nulls)
{
	int			natts = f->natts;

	for (;;)
	{
		RequestSet *set;

		while (f->next_row >= f->page.nrows)
		{
			if (f->set_done)
			{
				if (f->set_index + 1 >= list_length(f->sets))
					return false;
				start_set(f);
			}
			CHECK_FOR_INTERRUPTS();
			fetch_page(f);
		}
		*values = f->page.values + (size_t) f->next_row * natts;
		*nulls = f->page.nulls + (size_t) f->next_row * natts;
		f->next_row++;
		set = (RequestSet *) list_nth(f->sets, f->set_index);
		if (set->checks == NIL || row_in_set(set, *values, *nulls))
			return true;
	}
}

void
fetch_end(TableFetch *f)
{
	MemoryContextDelete(f->cxt);
}
