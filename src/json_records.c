/*-------------------------------------------------------------------------
 *
 * json_records.c
 *		  Streaming extraction of records from a JSON response page.
 *
 * This is the hot path of every scan.  A DOM per page (json-c, jsonb)
 * costs more than the network on loopback (../shared/reference/
 * performance-baseline.md: json-c about 37 MB/s), so records are pulled
 * out of PostgreSQL's own event-driven parser (common/jsonapi.h, about
 * 210 MB/s) as the events arrive: two small tries, one for the envelope
 * (where the records array and the next-page URL are) and one for the
 * fields of a record, are walked in step with the parser.  Only the values
 * of the columns a query uses are kept, and each record becomes datums
 * through the column type's input function as soon as it closes.
 *
 * Everything a page produces lives in the caller's per-page memory
 * context, which the scan resets before the next page.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include <limits.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define ROLE_RECORDS	0x01
#define ROLE_NEXT_URL	0x02

typedef struct PathNode
{
	char	   *key;
	struct PathNode *child;
	struct PathNode *sibling;
	int		   *cols;			/* record trie: columns reading this value */
	int			ncols;
	int			role;			/* envelope trie: ROLE_* */
} PathNode;

typedef struct RecordColumn
{
	int			attidx;			/* attnum - 1 */
	char	   *name;
	char	   *path;
	FmgrInfo	infunc;
	Oid			ioparam;
	int32		typmod;
	bool		is_json;		/* json or jsonb: string scalars are re-quoted */
} RecordColumn;

typedef enum ValueKind
{
	VAL_NONE,					/* absent from the record: NULL */
	VAL_NULL,
	VAL_STRING,					/* de-escaped string */
	VAL_LEXEME,					/* number, true, false as written */
	VAL_RAW						/* object or array: span of the input */
} ValueKind;

typedef struct ColumnValue
{
	ValueKind	kind;
	char	   *str;
	int			len;			/* VAL_RAW only */
} ColumnValue;

typedef enum FrameKind
{
	FRAME_PLAIN,
	FRAME_RECORD,
	FRAME_RECORDS_ARRAY
} FrameKind;

typedef struct Frame
{
	PathNode   *node;
	char	   *start;
	FrameKind	kind;
} Frame;

struct RecordExtractor
{
	int			natts;
	int			ncols;
	RecordColumn *cols;
	PathNode   *env_root;
	PathNode   *rec_root;
	const char *records_path;

	/* state of the page being parsed */
	JsonLexContext *lex;
	RecordPage *page;
	const char *request_desc;
	Frame	   *stack;
	int			depth;
	int			stack_cap;
	PathNode   *cur;			/* node of the value about to start */
	bool		cur_is_record;
	ColumnValue *values;		/* per column of the current record */
	RecordColumn *err_col;		/* for the error context callback */
	const ColumnValue *err_val;
};

/* ---------- tries ---------- */

static PathNode *
trie_child(PathNode *node, const char *key, bool create)
{
	PathNode   *c;

	for (c = node->child; c; c = c->sibling)
		if (strcmp(c->key, key) == 0)
			return c;
	if (!create)
		return NULL;
	c = palloc0(sizeof(PathNode));
	c->key = pstrdup(key);
	c->sibling = node->child;
	node->child = c;
	return c;
}

/* The node for a dotted path ("$" is the root), created as needed. */
static PathNode *
trie_insert(PathNode *root, const char *path)
{
	PathNode   *node = root;
	char	   *copy;
	char	   *seg;
	char	   *save = NULL;

	if (strcmp(path, "$") == 0)
		return root;
	copy = pstrdup(path);
	for (seg = strtok_r(copy, ".", &save); seg; seg = strtok_r(NULL, ".", &save))
		node = trie_child(node, seg, true);
	return node;
}

RecordExtractor *
records_compile(Relation rel, TupleDesc tupdesc, List *retrieved_attrs,
				const char *records_path, const char *next_url_path)
{
	RecordExtractor *ex = palloc0(sizeof(RecordExtractor));
	ListCell   *lc;
	int			i = 0;

	ex->natts = tupdesc->natts;
	ex->env_root = palloc0(sizeof(PathNode));
	ex->rec_root = palloc0(sizeof(PathNode));
	ex->records_path = records_path;
	trie_insert(ex->env_root, records_path)->role |= ROLE_RECORDS;
	if (next_url_path)
		trie_insert(ex->env_root, next_url_path)->role |= ROLE_NEXT_URL;

	ex->cols = palloc0(sizeof(RecordColumn) * Max(list_length(retrieved_attrs), 1));
	foreach(lc, retrieved_attrs)
	{
		int			attnum = lfirst_int(lc);
		Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);
		RecordColumn *col = &ex->cols[i];
		PathNode   *node;
		Oid			infuncid;

		if (att->attisdropped)
			continue;
		col->attidx = attnum - 1;
		col->name = pstrdup(NameStr(att->attname));
		col->path = scaler_get_column_path(RelationGetRelid(rel), attnum, col->name);
		col->typmod = att->atttypmod;
		col->is_json = (att->atttypid == JSONOID || att->atttypid == JSONBOID);
		getTypeInputInfo(att->atttypid, &infuncid, &col->ioparam);
		fmgr_info(infuncid, &col->infunc);

		node = trie_insert(ex->rec_root, col->path);
		node->cols = node->cols ? repalloc(node->cols, sizeof(int) * (node->ncols + 1))
			: palloc(sizeof(int));
		node->cols[node->ncols++] = i;
		i++;
	}
	ex->ncols = i;
	ex->values = palloc0(sizeof(ColumnValue) * Max(ex->ncols, 1));
	ex->stack_cap = 16;
	ex->stack = palloc(sizeof(Frame) * ex->stack_cap);
	return ex;
}

/* ---------- turning a record into datums ---------- */

static void
conversion_error_callback(void *arg)
{
	RecordExtractor *ex = (RecordExtractor *) arg;
	const ColumnValue *v = ex->err_val;
	char	   *shown;

	if (ex->err_col == NULL || v == NULL)
		return;
	shown = v->kind == VAL_RAW ? pnstrdup(v->str, Min(v->len, 60)) : pnstrdup(v->str, 60);
	if ((v->kind == VAL_RAW && v->len > 60) || (v->kind != VAL_RAW && strlen(v->str) > 60))
		shown = psprintf("%s...", shown);
	errcontext("column \"%s\" (JSON path \"%s\"), value \"%s\", record %d of the response to %s",
			   ex->err_col->name, ex->err_col->path, shown,
			   ex->page->nrows + 1, ex->request_desc);
}

static Datum
column_datum(RecordExtractor *ex, RecordColumn *col, ColumnValue *v)
{
	char	   *text = v->str;

	if (v->kind == VAL_RAW)
		text = pnstrdup(v->str, v->len);
	else if (v->kind == VAL_STRING && col->is_json)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		escape_json(&buf, v->str);
		text = buf.data;
	}
	ex->err_col = col;
	ex->err_val = v;
	return InputFunctionCall(&col->infunc, text, col->ioparam, col->typmod);
}

static void
emit_record(RecordExtractor *ex)
{
	RecordPage *page = ex->page;
	Datum	   *values;
	bool	   *nulls;

	if (page->nrows == page->capacity)
	{
		int			newcap = Max(page->capacity * 2, 64);

		if (page->values == NULL)
		{
			page->values = palloc(sizeof(Datum) * ex->natts * newcap);
			page->nulls = palloc(sizeof(bool) * ex->natts * newcap);
		}
		else
		{
			page->values = repalloc_huge(page->values, sizeof(Datum) * ex->natts * newcap);
			page->nulls = repalloc_huge(page->nulls, sizeof(bool) * ex->natts * newcap);
		}
		page->capacity = newcap;
	}
	values = page->values + (size_t) page->nrows * ex->natts;
	nulls = page->nulls + (size_t) page->nrows * ex->natts;
	memset(nulls, true, sizeof(bool) * ex->natts);

	for (int i = 0; i < ex->ncols; i++)
	{
		RecordColumn *col = &ex->cols[i];
		ColumnValue *v = &ex->values[i];

		if (v->kind == VAL_NONE || v->kind == VAL_NULL)
			continue;
		values[col->attidx] = column_datum(ex, col, v);
		nulls[col->attidx] = false;
	}
	ex->err_col = NULL;
	page->nrows++;
}

static void
store_value(RecordExtractor *ex, PathNode *node, ValueKind kind, char *str, int len)
{
	for (int i = 0; i < node->ncols; i++)
	{
		ColumnValue *v = &ex->values[node->cols[i]];

		v->kind = kind;
		v->str = str;
		v->len = len;
	}
}

/* ---------- parser events ---------- */

static void
records_shape_error(RecordExtractor *ex, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("unexpected JSON in the response to %s", ex->request_desc),
			 errdetail("%s", what)));
}

static void
push_frame(RecordExtractor *ex, FrameKind kind, PathNode *node)
{
	Frame	   *f;

	if (ex->depth == ex->stack_cap)
	{
		ex->stack_cap *= 2;
		ex->stack = repalloc(ex->stack, sizeof(Frame) * ex->stack_cap);
	}
	f = &ex->stack[ex->depth++];
	f->kind = kind;
	f->node = node;
	f->start = ex->lex->token_start;
}

static void
begin_container(RecordExtractor *ex, bool is_object)
{
	PathNode   *cur = ex->cur;

	if (ex->cur_is_record)
	{
		if (!is_object)
			records_shape_error(ex, psprintf("Each element at records path \"%s\" must be a JSON object, but one is an array.",
											 ex->records_path));
		memset(ex->values, 0, sizeof(ColumnValue) * ex->ncols);
		push_frame(ex, FRAME_RECORD, ex->rec_root);
	}
	else if (cur != NULL && (cur->role & ROLE_RECORDS))
	{
		ex->page->saw_records = true;
		if (is_object)
		{
			/* A single object where records are expected is one record. */
			memset(ex->values, 0, sizeof(ColumnValue) * ex->ncols);
			push_frame(ex, FRAME_RECORD, ex->rec_root);
		}
		else
			push_frame(ex, FRAME_RECORDS_ARRAY, NULL);
	}
	else
	{
		if (cur != NULL && (cur->role & ROLE_NEXT_URL))
			records_shape_error(ex, "The next-page URL must be a string or null.");
		push_frame(ex, FRAME_PLAIN, cur);
	}
	ex->cur = NULL;
	ex->cur_is_record = false;
}

static void
end_container(RecordExtractor *ex)
{
	Frame	   *f = &ex->stack[--ex->depth];
	char	   *end = ex->lex->prev_token_terminator;

	if (f->node && f->node->ncols > 0)
		store_value(ex, f->node, VAL_RAW, f->start, (int) (end - f->start));
	if (f->kind == FRAME_RECORD)
		emit_record(ex);
}

static void
on_object_start(void *state)
{
	begin_container((RecordExtractor *) state, true);
}

static void
on_array_start(void *state)
{
	begin_container((RecordExtractor *) state, false);
}

static void
on_container_end(void *state)
{
	end_container((RecordExtractor *) state);
}

static void
on_field_start(void *state, char *fname, bool isnull)
{
	RecordExtractor *ex = (RecordExtractor *) state;
	PathNode   *parent = ex->stack[ex->depth - 1].node;

	ex->cur = parent ? trie_child(parent, fname, false) : NULL;
}

static void
on_element_start(void *state, bool isnull)
{
	RecordExtractor *ex = (RecordExtractor *) state;

	ex->cur = NULL;
	ex->cur_is_record = (ex->stack[ex->depth - 1].kind == FRAME_RECORDS_ARRAY);
}

static void
on_scalar(void *state, char *token, JsonTokenType tokentype)
{
	RecordExtractor *ex = (RecordExtractor *) state;
	PathNode   *cur = ex->cur;

	if (ex->cur_is_record)
		records_shape_error(ex, psprintf("Each element at records path \"%s\" must be a JSON object, but one is %s.",
										 ex->records_path, tokentype == JSON_TOKEN_NULL ? "null" : "a scalar"));
	ex->cur = NULL;
	if (cur == NULL)
		return;
	if (cur->role & ROLE_RECORDS)
	{
		if (tokentype != JSON_TOKEN_NULL)
			records_shape_error(ex, psprintf("Expected an array of records at path \"%s\", found a scalar.",
											 ex->records_path));
		ex->page->saw_records = true;
	}
	if (cur->role & ROLE_NEXT_URL)
	{
		if (tokentype == JSON_TOKEN_STRING)
			ex->page->next_url = token[0] ? token : NULL;
		else if (tokentype != JSON_TOKEN_NULL)
			records_shape_error(ex, "The next-page URL must be a string or null.");
	}
	if (cur->ncols > 0)
		store_value(ex, cur,
					tokentype == JSON_TOKEN_NULL ? VAL_NULL :
					tokentype == JSON_TOKEN_STRING ? VAL_STRING : VAL_LEXEME,
					token, 0);
}

/*
 * Parse one page.  body must stay valid until the page's rows are consumed
 * (raw columns point into it until converted, which happens here).
 */
void
records_parse_page(RecordExtractor *ex, char *body, size_t len,
				   RecordPage *page, const char *request_desc)
{
	JsonSemAction sem;
	JsonParseErrorType rc;
	ErrorContextCallback errcb;

	memset(page, 0, sizeof(*page));
	if (len > (size_t) INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response to %s is too large to parse (%zu bytes)", request_desc, len)));

	/* JSON is UTF-8 on the wire; text columns must hold the server encoding. */
	if (GetDatabaseEncoding() == PG_UTF8)
		pg_verify_mbstr(PG_UTF8, body, (int) len, false);
	else
	{
		body = pg_any_to_server(body, (int) len, PG_UTF8);
		len = strlen(body);
	}

	ex->lex = makeJsonLexContextCstringLen(body, (int) len, GetDatabaseEncoding(), true);
	ex->page = page;
	ex->request_desc = request_desc;
	ex->depth = 0;
	ex->cur = ex->env_root;
	ex->cur_is_record = false;
	ex->err_col = NULL;

	memset(&sem, 0, sizeof(sem));
	sem.semstate = ex;
	sem.object_start = on_object_start;
	sem.object_end = on_container_end;
	sem.array_start = on_array_start;
	sem.array_end = on_container_end;
	sem.object_field_start = on_field_start;
	sem.array_element_start = on_element_start;
	sem.scalar = on_scalar;

	errcb.callback = conversion_error_callback;
	errcb.arg = ex;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	rc = pg_parse_json(ex->lex, &sem);

	error_context_stack = errcb.previous;

	if (rc != JSON_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid JSON in the response to %s", request_desc),
				 errdetail("At byte offset %d of %zu: %s",
						   (int) (ex->lex->token_start - ex->lex->input), len,
						   json_errdetail(rc, ex->lex))));

	if (!page->saw_records)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("the response to %s has no records at path \"%s\"",
						request_desc, ex->records_path),
				 errhint("Check the foreign table's \"records_path\" option against the response.")));
}
