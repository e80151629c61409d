/*-------------------------------------------------------------------------
 *
 * profile.c
 *		  Provider profiles: load (built-in, custom, override), validate,
 *		  compile.
 *
 * A server names a built-in profile (option "provider"), or supplies one
 * (option "profile"), and may patch either with option "profile_override",
 * a JSON Merge Patch (RFC 7386): objects merge key by key, null deletes a
 * key, anything else replaces.  Every error names the JSON path inside the
 * merged profile and what was expected there.
 *
 * json-c allocates with malloc: every tree is released in a PG_FINALLY so an
 * ERROR in validation leaks nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"
#include "profile.h"

#include <math.h>

#include "catalog/pg_collation.h"
#include "funcapi.h"
/* PostgreSQL's json_object() SQL function would clash with json-c's type. */
#define json_object pg_json_object_function
#include "utils/builtins.h"
#undef json_object
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include <json-c/json.h>

PG_FUNCTION_INFO_V1(scaler_builtin_profiles);

/* ---------- errors ---------- */

void
scaler_profile_error(const char *where, const char *fmt,...)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid provider profile at %s", where),
			 errdetail("%s", buf.data)));
}

static const char *
json_type_name(struct json_object *o)
{
	switch (json_object_get_type(o))
	{
		case json_type_null:
			return "null";
		case json_type_boolean:
			return "a boolean";
		case json_type_double:
		case json_type_int:
			return "a number";
		case json_type_object:
			return "an object";
		case json_type_array:
			return "an array";
		case json_type_string:
			return "a string";
	}
	return "a value";
}

static char *
member_path(const char *where, const char *key)
{
	return psprintf("%s.%s", where, key);
}

/* Unknown keys are errors, with the closest valid key as a hint. */
static void
check_keys(struct json_object *obj, const char *where, const char *const *allowed)
{
	json_object_object_foreach(obj, key, val)
	{
		const char *best = NULL;
		int			best_dist = INT_MAX;
		bool		ok = false;

		(void) val;
		for (int i = 0; allowed[i]; i++)
		{
			int			d;

			if (strcmp(allowed[i], key) == 0)
			{
				ok = true;
				break;
			}
			d = varstr_levenshtein(key, strlen(key), allowed[i], strlen(allowed[i]), 1, 1, 1, true);
			if (d < best_dist)
			{
				best_dist = d;
				best = allowed[i];
			}
		}
		if (!ok)
		{
			if (best && best_dist <= Max(2, (int) strlen(key) / 3))
				scaler_profile_error(member_path(where, key),
							  "Unknown key \"%s\". Perhaps you meant \"%s\".", key, best);
			scaler_profile_error(member_path(where, key), "Unknown key \"%s\".", key);
		}
	}
}

/* ---------- typed getters ---------- */

static struct json_object *
get_member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static struct json_object *
get_object(struct json_object *obj, const char *key, const char *where, bool required)
{
	struct json_object *v = get_member(obj, key);

	if (v == NULL || json_object_get_type(v) == json_type_null)
	{
		if (required)
			scaler_profile_error(member_path(where, key), "Expected an object; the key is missing.");
		return NULL;
	}
	if (json_object_get_type(v) != json_type_object)
		scaler_profile_error(member_path(where, key), "Expected an object, found %s.", json_type_name(v));
	return v;
}

static char *
get_string(struct json_object *obj, const char *key, const char *where,
		   bool required, const char *dflt)
{
	struct json_object *v = get_member(obj, key);

	if (v == NULL || json_object_get_type(v) == json_type_null)
	{
		if (required)
			scaler_profile_error(member_path(where, key), "Expected a string; the key is missing.");
		return dflt ? pstrdup(dflt) : NULL;
	}
	if (json_object_get_type(v) != json_type_string)
		scaler_profile_error(member_path(where, key), "Expected a string, found %s.", json_type_name(v));
	if (json_object_get_string_len(v) == 0)
		scaler_profile_error(member_path(where, key), "Expected a non-empty string.");
	return pstrdup(json_object_get_string(v));
}

static int64
get_int(struct json_object *obj, const char *key, const char *where,
		int64 dflt, int64 min, int64 max)
{
	struct json_object *v = get_member(obj, key);
	int64		n;

	if (v == NULL || json_object_get_type(v) == json_type_null)
		return dflt;
	if (json_object_get_type(v) != json_type_int)
		scaler_profile_error(member_path(where, key), "Expected an integer, found %s.", json_type_name(v));
	n = json_object_get_int64(v);
	if (n < min || n > max)
		scaler_profile_error(member_path(where, key),
					  "Expected an integer from " INT64_FORMAT " to " INT64_FORMAT ", found " INT64_FORMAT ".",
					  min, max, n);
	return n;
}

static double
get_number(struct json_object *obj, const char *key, const char *where, double dflt)
{
	struct json_object *v = get_member(obj, key);
	double		d;

	if (v == NULL || json_object_get_type(v) == json_type_null)
		return dflt;
	if (json_object_get_type(v) != json_type_int && json_object_get_type(v) != json_type_double)
		scaler_profile_error(member_path(where, key), "Expected a number, found %s.", json_type_name(v));
	d = json_object_get_double(v);
	if (!(d > 0) || isinf(d))
		scaler_profile_error(member_path(where, key), "Expected a positive number.");
	return d;
}

static bool
get_bool(struct json_object *obj, const char *key, const char *where, bool dflt)
{
	struct json_object *v = get_member(obj, key);

	if (v == NULL || json_object_get_type(v) == json_type_null)
		return dflt;
	if (json_object_get_type(v) != json_type_boolean)
		scaler_profile_error(member_path(where, key), "Expected true or false, found %s.", json_type_name(v));
	return json_object_get_boolean(v);
}

static int
get_enum(struct json_object *obj, const char *key, const char *where,
		 const char *const *choices, int dflt)
{
	char	   *s = get_string(obj, key, where, dflt < 0, NULL);
	StringInfoData list;

	if (s == NULL)
		return dflt;
	for (int i = 0; choices[i]; i++)
		if (strcmp(choices[i], s) == 0)
			return i;
	initStringInfo(&list);
	for (int i = 0; choices[i]; i++)
		appendStringInfo(&list, "%s\"%s\"", i ? ", " : "", choices[i]);
	scaler_profile_error(member_path(where, key), "Expected one of %s; found \"%s\".", list.data, s);
	return dflt;				/* keep compiler quiet */
}

/* A string-valued object (query parameters, headers) as two parallel lists. */
static void
get_string_map(struct json_object *obj, const char *key, const char *where,
			   List **names, List **values)
{
	struct json_object *m = get_object(obj, key, where, false);

	*names = NIL;
	*values = NIL;
	if (m == NULL)
		return;
	{
		json_object_object_foreach(m, k, v)
		{
			enum json_type t = json_object_get_type(v);

			if (t != json_type_string && t != json_type_int && t != json_type_double &&
				t != json_type_boolean)
				scaler_profile_error(member_path(member_path(where, key), k),
							  "Expected a string or number, found %s.", json_type_name(v));
			*names = lappend(*names, pstrdup(k));
			*values = lappend(*values, pstrdup(json_object_get_string(v)));
		}
	}
}

/* ---------- paths ---------- */

static void
pattern_error_context(void *arg)
{
	errcontext("provider profile at %s", (const char *) arg);
}

/* A regular expression of a profile, compiled now so a bad one fails where it is given. */
static void
compile_condition_regex(const char *regex, const char *where)
{
	LOCAL_FCINFO(fcinfo, 2);
	ErrorContextCallback errcb;

	errcb.callback = pattern_error_context;
	errcb.arg = (void *) where;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	InitFunctionCallInfoData(*fcinfo, NULL, 2, DEFAULT_COLLATION_OID, NULL, NULL);
	fcinfo->args[0].value = CStringGetTextDatum("");
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = CStringGetTextDatum(regex);
	fcinfo->args[1].isnull = false;
	(void) textregexsubstr(fcinfo);
	error_context_stack = errcb.previous;
}

/*
 * Parse "a.b[].c[2]" into steps.  "$" is the root.  "[]" (every element of
 * an array) is allowed only where allow_each says so (records paths).
 */
ScalerPath *
scaler_parse_path(const char *text, const char *where, bool allow_each)
{
	List	   *steps = NIL;
	const char *p = text;

	if (strcmp(text, "$") == 0)
		return NIL;
	if (*p == '\0')
		scaler_profile_error(where, "Expected a path such as \"data.items\", or \"$\" for the whole document.");
	while (*p)
	{
		size_t		n = strcspn(p, ".[");

		if (n > 0)
		{
			PathStep   *s = palloc0(sizeof(PathStep));

			s->kind = STEP_KEY;
			s->key = pnstrdup(p, n);
			steps = lappend(steps, s);
			p += n;
		}
		else if (*p != '[')
			scaler_profile_error(where, "Empty key in path \"%s\".", text);
		/*
		 * XML: "link[@rel=next]" is the link element whose rel attribute is
		 * next; "link[@href~'/ReadingType/[0-9]+$']" one whose href matches
		 * a regular expression.  A quoted value may hold "]" and ".".
		 */
		if (p[0] == '[' && p[1] == '@')
		{
			const char *q = p + 2;
			const char *name_end;
			PathStep   *prev = steps ? (PathStep *) llast(steps) : NULL;
			char		op;
			char	   *value;

			while (*q && *q != '=' && *q != '~' && *q != ']')
				q++;
			name_end = q;
			op = *q;
			if ((op != '=' && op != '~') || name_end == p + 2 || prev == NULL ||
				prev->kind != STEP_KEY || prev->pred_attr != NULL || n == 0)
				scaler_profile_error(where, "Expected an element name and a condition such as \"link[@rel=next]\" in path \"%s\".", text);
			q++;
			if (*q == '\'' || *q == '"')
			{
				const char *close_quote = strchr(q + 1, *q);

				if (close_quote == NULL)
					scaler_profile_error(where, "Unclosed quote in path \"%s\".", text);
				value = pnstrdup(q + 1, close_quote - q - 1);
				q = close_quote + 1;
			}
			else
			{
				const char *close = strchr(q, ']');

				if (close == NULL)
					scaler_profile_error(where, "Unclosed \"[\" in path \"%s\".", text);
				value = pnstrdup(q, close - q);
				q = close;
			}
			if (*q != ']')
				scaler_profile_error(where, "Expected \"]\" after the condition in path \"%s\".", text);
			prev->pred_attr = pnstrdup(p + 1, name_end - p - 1);	/* with its "@" */
			prev->pred_value = value;
			prev->pred_regex = op == '~';
			if (prev->pred_regex)
				compile_condition_regex(value, where);
			p = q + 1;
		}
		while (*p == '[')
		{
			PathStep   *s = palloc0(sizeof(PathStep));
			const char *close = strchr(p, ']');

			if (close == NULL)
				scaler_profile_error(where, "Unclosed \"[\" in path \"%s\".", text);
			if (close == p + 1)
			{
				if (!allow_each)
					scaler_profile_error(where, "\"[]\" (every element) is allowed only in a records path; found \"%s\".", text);
				s->kind = STEP_EACH;
			}
			else
			{
				char	   *num = pnstrdup(p + 1, close - p - 1);

				if (strspn(num, "0123456789") != strlen(num) || strlen(num) > 6)
					scaler_profile_error(where, "Expected \"[]\" or an array index such as \"[0]\" in path \"%s\".", text);
				s->kind = STEP_INDEX;
				s->index = atoi(num);
			}
			steps = lappend(steps, s);
			p = close + 1;
		}
		if (*p == '.')
		{
			p++;
			if (*p == '\0' || *p == '.')
				scaler_profile_error(where, "Empty key in path \"%s\".", text);
		}
		else if (*p != '\0' && *p != '[')
			scaler_profile_error(where, "Unexpected \"%c\" in path \"%s\".", *p, text);
	}
	return steps;
}

/* ---------- compile ---------- */

static const char *const format_names[] = {"auto", "iso8601", "date", "epoch", "epoch_ms", NULL};
static const char *const pagination_names[] = {"none", "next_url", "link_header", "page", "offset", "cursor", "next_link", NULL};
static const char *const response_formats[] = {"json", "xml", NULL};
static const char *const auth_names[] = {"none", "basic", "bearer", "api_key", "oauth2", "login", NULL};

static List *
compile_template(const char *text, const char *where)
{
	List	   *parts = NIL;
	const char *p = text;

	while (*p)
	{
		const char *open = strchr(p, '{');
		TemplatePart *part;

		if (open != p)
		{
			part = palloc0(sizeof(TemplatePart));
			part->literal = open ? pnstrdup(p, open - p) : pstrdup(p);
			parts = lappend(parts, part);
			if (!open)
				break;
		}
		{
			const char *close = strchr(open, '}');

			if (close == NULL || close == open + 1)
				scaler_profile_error(where, "Expected \"{path}\" placeholders in template \"%s\".", text);
			part = palloc0(sizeof(TemplatePart));
			part->path_text = pnstrdup(open + 1, close - open - 1);
			part->path = scaler_parse_path(part->path_text, where, true);
			parts = lappend(parts, part);
			p = close + 1;
		}
	}
	return parts;
}

static ScalerFieldSpec *
compile_field(const char *column, struct json_object *def, const char *where)
{
	static const char *const keys[] = {"path", "const", "template", "var", "format",
	"timezone", "map", "default", "add", "duration", "type", "description", "pattern",
	"power_of_ten_var", NULL};
	ScalerFieldSpec *f = palloc0(sizeof(ScalerFieldSpec));
	int			sources = 0;
	struct json_object *map;

	f->column = pstrdup(column);
	if (json_object_get_type(def) == json_type_string)
	{
		f->kind = FIELD_PATH;
		f->path_text = pstrdup(json_object_get_string(def));
		f->path = scaler_parse_path(f->path_text, where, true);
		return f;
	}
	if (json_object_get_type(def) != json_type_object)
		scaler_profile_error(where, "Expected a path string or an object, found %s.", json_type_name(def));
	check_keys(def, where, keys);

	if (get_member(def, "path"))
	{
		f->kind = FIELD_PATH;
		f->path_text = get_string(def, "path", where, true, NULL);
		f->path = scaler_parse_path(f->path_text, member_path(where, "path"), true);
		sources++;
	}
	if (get_member(def, "const"))
	{
		struct json_object *c = get_member(def, "const");

		f->kind = FIELD_CONST;
		if (json_object_get_type(c) == json_type_object || json_object_get_type(c) == json_type_array)
			scaler_profile_error(member_path(where, "const"), "Expected a string, number, boolean or null.");
		f->const_value = json_object_get_type(c) == json_type_null ? NULL : pstrdup(json_object_get_string(c));
		sources++;
	}
	if (get_member(def, "template"))
	{
		f->kind = FIELD_TEMPLATE;
		f->template_parts = compile_template(get_string(def, "template", where, true, NULL),
											 member_path(where, "template"));
		sources++;
	}
	if (get_member(def, "var"))
	{
		f->kind = FIELD_VAR;
		f->path_text = get_string(def, "var", where, true, NULL);
		sources++;
	}
	if (sources != 1)
		scaler_profile_error(where, "Expected exactly one of \"path\", \"const\", \"template\" or \"var\".");

	f->format = (ValueFormat) get_enum(def, "format", where, format_names, FMT_AUTO);
	f->sql_type = get_string(def, "type", where, false, NULL);
	f->timezone = get_string(def, "timezone", where, false, NULL);
	map = get_object(def, "map", where, false);
	if (map)
	{
		json_object_object_foreach(map, k, v)
		{
			/* (a block of its own: the macro declares variables) */
			if (json_object_get_type(v) != json_type_string)
				scaler_profile_error(member_path(member_path(where, "map"), k),
							  "Expected a string, found %s.", json_type_name(v));
			f->map_from = lappend(f->map_from, pstrdup(k));
			f->map_to = lappend(f->map_to, pstrdup(json_object_get_string(v)));
		}
	}
	if (get_member(def, "add"))
	{
		char	   *text = get_string(def, "add", where, true, NULL);

		f->add = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(text),
													   ObjectIdGetDatum(InvalidOid),
													   Int32GetDatum(-1)));
		if (f->format == FMT_AUTO)
			f->format = FMT_ISO8601;
	}
	if (get_member(def, "duration"))
	{
		f->duration_path = get_string(def, "duration", where, true, NULL);
		(void) scaler_parse_path(f->duration_path, member_path(where, "duration"), true);
		if (f->kind != FIELD_PATH)
			scaler_profile_error(member_path(where, "duration"), "\"duration\" goes with \"path\".");
		if (f->format == FMT_AUTO)
			f->format = FMT_ISO8601;
	}
	f->pattern = get_string(def, "pattern", where, false, NULL);
	if (f->pattern)
		compile_condition_regex(f->pattern, member_path(where, "pattern"));
	f->power_of_ten_var = get_string(def, "power_of_ten_var", where, false, NULL);
	if (get_member(def, "default"))
	{
		if (map == NULL)
			scaler_profile_error(member_path(where, "default"), "\"default\" goes with \"map\".");
		f->map_default = get_string(def, "default", where, true, NULL);
		f->has_map_default = true;
	}
	return f;
}

static void
compile_pagination(ScalerPaginationSpec *pg, struct json_object *def, const char *where)
{
	static const char *const keys[] = {"type", "path", "param", "start", "size_param",
	"size", "total_path", "cursor_path", "max_pages", "match", "url", "relative_to", NULL};
	static const char *const relative_names[] = {"response", "base_url", NULL};

	memset(pg, 0, sizeof(*pg));
	if (def == NULL)
	{
		pg->kind = PAGINATE_NONE;
		return;
	}
	check_keys(def, where, keys);
	pg->kind = (PaginationKind) get_enum(def, "type", where, pagination_names, -1);
	pg->links_from_base_url = get_enum(def, "relative_to", where, relative_names, 0) == 1;
	if (pg->links_from_base_url && pg->kind != PAGINATE_NEXT_URL && pg->kind != PAGINATE_NEXT_LINK)
		scaler_profile_error(member_path(where, "relative_to"),
							 "\"relative_to\" goes with next_url or next_link pagination.");
	pg->max_pages = (int) get_int(def, "max_pages", where, 0, 0, INT_MAX);
	switch (pg->kind)
	{
		case PAGINATE_NONE:
		case PAGINATE_LINK_HEADER:
			pg->size_param = get_string(def, "size_param", where, false, NULL);
			pg->size = (int) get_int(def, "size", where, 0, 0, 1000000);
			break;
		case PAGINATE_NEXT_URL:
			pg->next_path = get_string(def, "path", where, false, "next");
			(void) scaler_parse_path(pg->next_path, member_path(where, "path"), false);
			/* the first request's page size; next URLs carry their own */
			pg->size_param = get_string(def, "size_param", where, false, NULL);
			pg->size = (int) get_int(def, "size", where, 0, 0, 1000000);
			break;
		case PAGINATE_NEXT_LINK:
			{
				struct json_object *match = get_object(def, "match", where, true);
				int			n = 0;

				pg->next_path = get_string(def, "path", where, true, NULL);
				(void) scaler_parse_path(pg->next_path, member_path(where, "path"), false);
				{
					json_object_object_foreach(match, attr, value)
					{
						if (attr[0] != '@' || attr[1] == '\0' ||
							json_object_get_type(value) != json_type_string)
							scaler_profile_error(member_path(where, "match"),
												 "Expected one attribute and its value, such as {\"@rel\": \"next\"}.");
						pg->link_match_attr = pstrdup(attr);
						pg->link_match_value = pstrdup(json_object_get_string(value));
						n++;
					}
				}
				if (n != 1)
					scaler_profile_error(member_path(where, "match"),
										 "Expected one attribute and its value, such as {\"@rel\": \"next\"}.");
				pg->link_url_attr = get_string(def, "url", where, false, "@href");
				if (pg->link_url_attr[0] != '@' || pg->link_url_attr[1] == '\0')
					scaler_profile_error(member_path(where, "url"),
										 "Expected the attribute holding the URL, such as \"@href\".");
				pg->size_param = get_string(def, "size_param", where, false, NULL);
				pg->size = (int) get_int(def, "size", where, 0, 0, 1000000);
				break;
			}
		case PAGINATE_PAGE:
			pg->param = get_string(def, "param", where, false, "page");
			pg->start = (int) get_int(def, "start", where, 1, 0, 1);
			pg->size_param = get_string(def, "size_param", where, false, NULL);
			pg->size = (int) get_int(def, "size", where, 0, 0, 1000000);
			pg->total_path = get_string(def, "total_path", where, false, NULL);
			break;
		case PAGINATE_OFFSET:
			pg->param = get_string(def, "param", where, false, "offset");
			pg->size_param = get_string(def, "size_param", where, false, "limit");
			pg->size = (int) get_int(def, "size", where, 100, 1, 1000000);
			pg->total_path = get_string(def, "total_path", where, false, NULL);
			break;
		case PAGINATE_CURSOR:
			pg->param = get_string(def, "param", where, true, NULL);
			pg->cursor_path = get_string(def, "cursor_path", where, true, NULL);
			pg->size_param = get_string(def, "size_param", where, false, NULL);
			pg->size = (int) get_int(def, "size", where, 0, 0, 1000000);
			(void) scaler_parse_path(pg->cursor_path, member_path(where, "cursor_path"), false);
			break;
	}
	if (pg->total_path)
		(void) scaler_parse_path(pg->total_path, member_path(where, "total_path"), false);
	if (pg->size_param && pg->size == 0)
		scaler_profile_error(member_path(where, "size"), "Expected a page size with \"size_param\".");
}

static int64
parse_window(const char *text, const char *where)
{
	Datum		iv;
	Interval   *i;
	int64		secs;

	/* The interval type's own input: "31 days", "1 year", "PT24H". */
	iv = DirectFunctionCall3(interval_in, CStringGetDatum(text),
							 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	i = DatumGetIntervalP(iv);
	secs = i->time / USECS_PER_SEC + (int64) i->day * SECS_PER_DAY +
		(int64) i->month * 30 * SECS_PER_DAY;
	if (secs <= 0)
		scaler_profile_error(where, "Expected a positive interval, found \"%s\".", text);
	return secs;
}

static ScalerFilterSpec *
compile_filter(const char *column, struct json_object *def, const char *where)
{
	static const char *const keys[] = {"param", "list", "path_var", "from_param", "to_param",
	"format", "timezone", "end", "max_window", NULL};
	static const char *const end_names[] = {"exclusive", "inclusive", NULL};
	ScalerFilterSpec *f = palloc0(sizeof(ScalerFilterSpec));
	char	   *window;

	if (json_object_get_type(def) != json_type_object)
		scaler_profile_error(where, "Expected an object, found %s.", json_type_name(def));
	check_keys(def, where, keys);
	f->column = pstrdup(column);
	if (get_member(def, "from_param") || get_member(def, "to_param"))
	{
		f->kind = FILTER_RANGE;
		f->from_param = get_string(def, "from_param", where, false, NULL);
		f->to_param = get_string(def, "to_param", where, false, NULL);
		f->format = (ValueFormat) get_enum(def, "format", where, format_names, FMT_ISO8601);
		f->timezone = get_string(def, "timezone", where, false, NULL);
		f->end_inclusive = get_enum(def, "end", where, end_names, 0) == 1;
		window = get_string(def, "max_window", where, false, NULL);
		if (window)
		{
			f->max_window_secs = parse_window(window, member_path(where, "max_window"));
			if (f->from_param == NULL || f->to_param == NULL)
				scaler_profile_error(member_path(where, "max_window"),
									 "Windows need both \"from_param\" and \"to_param\".");
		}
	}
	else if (get_bool(def, "path_var", where, false))
		f->kind = FILTER_PATH_VAR;
	else
	{
		f->kind = FILTER_PARAM;
		f->param = get_string(def, "param", where, true, NULL);
		f->list_separator = get_string(def, "list", where, false, NULL);
	}
	return f;
}

/* Arrays directly inside arrays ("a[][]") would be records with no fields to read. */
static void
check_records_path(ScalerPath *records, const char *text, const char *where)
{
	bool		prev_each = false;
	ListCell   *lc;

	foreach(lc, records)
	{
		bool		each = ((PathStep *) lfirst(lc))->kind == STEP_EACH;

		if (each && prev_each)
			scaler_profile_error(where, "Arrays directly inside arrays are not records; found \"%s\".", text);
		prev_each = each;
	}
}

static void check_level_path(ScalerTableSpec *t, ScalerPath *records, const char *records_text,
							 ScalerPath *path, const char *path_text, const char *where);

/*
 * "more_records": records from other paths of the same response, such as
 * gas meters beside electricity meters: [{"records": ..., "fields": {...}}],
 * each field given there replacing the table's field of that name.
 */
static void
compile_more_records(ScalerTableSpec *t, struct json_object *more, const char *where)
{
	static const char *const keys[] = {"records", "fields", NULL};

	if (more == NULL)
		return;
	if (json_object_get_type(more) != json_type_array)
		scaler_profile_error(where, "Expected an array of {\"records\": ..., \"fields\": {...}}, found %s.",
							 json_type_name(more));
	for (size_t i = 0; i < json_object_array_length(more); i++)
	{
		struct json_object *def = json_object_array_get_idx(more, i);
		char	   *w = psprintf("%s[%zu]", where, i);
		ScalerRecordSource *src = palloc0(sizeof(ScalerRecordSource));
		struct json_object *fields;
		ListCell   *lc;

		if (json_object_get_type(def) != json_type_object)
			scaler_profile_error(w, "Expected an object, found %s.", json_type_name(def));
		check_keys(def, w, keys);
		src->records_text = get_string(def, "records", w, true, NULL);
		src->records = scaler_parse_path(src->records_text, member_path(w, "records"), true);
		check_records_path(src->records, src->records_text, member_path(w, "records"));
		fields = get_object(def, "fields", w, false);
		if (fields)
		{
			json_object_object_foreach(fields, col, fdef)
			{
				char	   *fw = member_path(member_path(w, "fields"), col);

				if (scaler_table_field(t, col) == NULL)
					scaler_profile_error(fw, "No field \"%s\" in the table's \"fields\" to replace.", col);
				src->fields = lappend(src->fields, compile_field(col, fdef, fw));
			}
		}
		/* Paths through "[]" follow this source's records path. */
		foreach(lc, t->fields)
		{
			ScalerFieldSpec *f = (ScalerFieldSpec *) lfirst(lc);
			ListCell   *oc;
			bool		replaced = false;

			foreach(oc, src->fields)
				if (strcmp(((ScalerFieldSpec *) lfirst(oc))->column, f->column) == 0)
					replaced = true;
			if (!replaced && f->kind == FIELD_PATH)
				check_level_path(t, src->records, src->records_text, f->path, f->path_text,
								 member_path(member_path(w, "fields"), f->column));
		}
		foreach(lc, src->fields)
		{
			ScalerFieldSpec *f = (ScalerFieldSpec *) lfirst(lc);

			if (f->kind == FIELD_PATH)
				check_level_path(t, src->records, src->records_text, f->path, f->path_text,
								 member_path(member_path(w, "fields"), f->column));
		}
		t->more_sources = lappend(t->more_sources, src);
	}
}

/* A path with "[]" must repeat the records path up to one of its "[]". */
static void
check_level_path(ScalerTableSpec *t, ScalerPath *records, const char *records_text,
				 ScalerPath *path, const char *path_text, const char *where)
{
	int			last_each = -1;
	int			i = 0;
	ListCell   *sc;

	foreach(sc, path)
	{
		if (((PathStep *) lfirst(sc))->kind == STEP_EACH)
			last_each = i;
		i++;
	}
	for (int k = 0; k <= last_each; k++)
	{
		PathStep   *a = (PathStep *) list_nth(path, k);
		PathStep   *b = k < list_length(records) ? (PathStep *) list_nth(records, k) : NULL;

		if (b == NULL || a->kind != b->kind ||
			(a->kind == STEP_KEY && strcmp(a->key, b->key) != 0) ||
			(a->kind == STEP_INDEX && a->index != b->index))
			scaler_profile_error(where,
								 "A path with \"[]\" must repeat the records path \"%s\" up to one of its \"[]\"; found \"%s\".",
								 records_text, path_text);
	}
}

/*
 * XML has no positions to index ("[0]" would silently mean nothing there),
 * and JSON no attributes to test: each format's paths are checked for it.
 */
static void
check_format_path(bool xml, ScalerPath *path, const char *text, const char *where)
{
	ListCell   *lc;

	foreach(lc, path)
	{
		PathStep   *step = (PathStep *) lfirst(lc);

		if (xml && step->kind == STEP_INDEX)
			scaler_profile_error(where, "An index such as \"[0]\" has no meaning in XML; found \"%s\".", text);
		if (!xml && step->pred_attr)
			scaler_profile_error(where, "A condition such as \"[@rel=next]\" tests an XML attribute: it goes with \"format\": \"xml\"; found \"%s\".", text);
	}
}

static void
check_format_fields(bool xml, List *fields, const char *where)
{
	ListCell   *lc;

	foreach(lc, fields)
	{
		ScalerFieldSpec *f = (ScalerFieldSpec *) lfirst(lc);
		char	   *w = member_path(where, f->column);
		ListCell   *pc;

		if (f->path)
			check_format_path(xml, f->path, f->path_text, w);
		if (f->duration_path)
			check_format_path(xml, scaler_parse_path(f->duration_path, w, true), f->duration_path, w);
		foreach(pc, f->template_parts)
			if (((TemplatePart *) lfirst(pc))->path)
				check_format_path(xml, ((TemplatePart *) lfirst(pc))->path,
								  ((TemplatePart *) lfirst(pc))->path_text, w);
	}
}

static void
check_format_paths(ScalerTableSpec *t, const char *where)
{
	const ScalerPaginationSpec *pg = &t->pagination;
	const char *const pg_paths[] = {pg->next_path, pg->total_path, pg->cursor_path};
	ListCell   *lc;
	int			i = 0;

	check_format_path(t->xml, t->records, t->records_text, member_path(where, "records"));
	check_format_fields(t->xml, t->fields, member_path(where, "fields"));
	foreach(lc, t->more_sources)
	{
		ScalerRecordSource *src = (ScalerRecordSource *) lfirst(lc);
		char	   *w = psprintf("%s.more_records[%d]", where, i++);

		check_format_path(t->xml, src->records, src->records_text, member_path(w, "records"));
		check_format_fields(t->xml, src->fields, member_path(w, "fields"));
	}
	for (i = 0; i < (int) lengthof(pg_paths); i++)
		if (pg_paths[i] && (pg->kind != PAGINATE_NONE && pg->kind != PAGINATE_LINK_HEADER))
			check_format_path(t->xml, scaler_parse_path(pg_paths[i], member_path(where, "pagination"), false),
							  pg_paths[i], member_path(where, "pagination"));
}

static ScalerTableSpec *
compile_table(const char *name, struct json_object *def, const char *where, int format)
{
	static const char *const keys[] = {"description", "request", "pagination", "records",
	"more_records", "fields", "filters", "parent", "rows", "format", "internal", NULL};
	static const char *const req_keys[] = {"path", "method", "query", "headers", "body", NULL};
	static const char *const methods[] = {"GET", "POST", NULL};
	struct json_object *body;
	static const char *const parent_keys[] = {"table", "vars", NULL};
	ScalerTableSpec *t = palloc0(sizeof(ScalerTableSpec));
	struct json_object *req;
	struct json_object *fields;
	struct json_object *filters;
	struct json_object *parent;
	char	   *fwhere = member_path(where, "fields");

	check_keys(def, where, keys);
	t->name = pstrdup(name);
	t->xml = get_enum(def, "format", where, response_formats, format) == 1;
	t->internal = get_bool(def, "internal", where, false);
	req = get_object(def, "request", where, true);
	check_keys(req, member_path(where, "request"), req_keys);
	t->path = get_string(req, "path", member_path(where, "request"), true, NULL);
	get_string_map(req, "query", member_path(where, "request"), &t->query_names, &t->query_values);
	get_string_map(req, "headers", member_path(where, "request"), &t->header_names, &t->header_values);
	t->method = pstrdup(methods[get_enum(req, "method", member_path(where, "request"), methods, 0)]);
	body = get_member(req, "body");
	if (body && json_object_get_type(body) != json_type_null)
	{
		if (strcmp(t->method, "POST") != 0)
			scaler_profile_error(member_path(member_path(where, "request"), "body"),
								 "A body goes with \"method\": \"POST\".");
		t->body = pstrdup(json_object_get_type(body) == json_type_string ? json_object_get_string(body)
						  : json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	}
	compile_pagination(&t->pagination, get_object(def, "pagination", where, false),
					   member_path(where, "pagination"));
	t->records_text = get_string(def, "records", where, false, "$");
	t->records = scaler_parse_path(t->records_text, member_path(where, "records"), true);
	check_records_path(t->records, t->records_text, member_path(where, "records"));
	t->rows_estimate = (double) get_int(def, "rows", where, 1000, 1, INT64CONST(1000000000000));

	fields = get_object(def, "fields", where, true);
	{
		json_object_object_foreach(fields, col, fdef)
			t->fields = lappend(t->fields, compile_field(col, fdef, member_path(fwhere, col)));
	}
	compile_more_records(t, get_member(def, "more_records"), member_path(where, "more_records"));
	if (t->pagination.kind == PAGINATE_NEXT_LINK && !t->xml)
		scaler_profile_error(member_path(where, "pagination"),
							 "\"next_link\" pagination reads XML link elements: it goes with \"format\": \"xml\".");
	check_format_paths(t, where);
	if (t->pagination.kind == PAGINATE_OFFSET)
	{
		int			levels = 0;
		ListCell   *lc;

		foreach(lc, t->records)
			if (((PathStep *) lfirst(lc))->kind == STEP_EACH)
				levels++;
		/* Offsets count the provider's records; flattened rows are not those. */
		if (t->more_sources != NIL ||
			(levels > 0 && !(levels == 1 && ((PathStep *) llast(t->records))->kind == STEP_EACH)))
			scaler_profile_error(member_path(where, "pagination"),
								 "Offset pagination needs flat records: with nested records or \"more_records\", use page, cursor or next_url pagination.");
	}

	/* A "[]" in a field path must repeat the records path up to one of its levels. */
	{
		ListCell   *fc;

		foreach(fc, t->fields)
		{
			ScalerFieldSpec *f = (ScalerFieldSpec *) lfirst(fc);
			ListCell   *pc;

			if (f->kind == FIELD_PATH)
				check_level_path(t, t->records, t->records_text, f->path, f->path_text,
								 member_path(fwhere, f->column));
			foreach(pc, f->template_parts)
			{
				TemplatePart *tp = (TemplatePart *) lfirst(pc);

				if (tp->path)
					check_level_path(t, t->records, t->records_text, tp->path, tp->path_text,
									 member_path(fwhere, f->column));
			}
		}
	}

	filters = get_object(def, "filters", where, false);
	if (filters)
	{
		json_object_object_foreach(filters, fcol, fval)
		{
			char	   *w = member_path(member_path(where, "filters"), fcol);

			if (scaler_table_field(t, fcol) == NULL)
				scaler_profile_error(w, "No field \"%s\" in this table's \"fields\".", fcol);
			t->filters = lappend(t->filters, compile_filter(fcol, fval, w));
		}
	}

	parent = get_object(def, "parent", where, false);
	if (parent)
	{
		struct json_object *vars;
		char	   *pwhere = member_path(where, "parent");

		check_keys(parent, pwhere, parent_keys);
		t->parent_table = get_string(parent, "table", pwhere, true, NULL);
		vars = get_member(parent, "vars");
		if (vars == NULL || json_object_get_type(vars) != json_type_array ||
			json_object_array_length(vars) == 0)
			scaler_profile_error(member_path(pwhere, "vars"),
						  "Expected a non-empty array of the parent's column names.");
		for (size_t i = 0; i < json_object_array_length(vars); i++)
		{
			struct json_object *v = json_object_array_get_idx(vars, i);

			if (json_object_get_type(v) != json_type_string)
				scaler_profile_error(psprintf("%s.vars[%zu]", pwhere, i), "Expected a string.");
			t->parent_vars = lappend(t->parent_vars, pstrdup(json_object_get_string(v)));
		}
	}
	return t;
}

static void
compile_auth(ScalerProfile *p, struct json_object *def, const char *where)
{
	static const char *const keys[] = {"type", "name", "in", "grant", "token_url", "scope",
	"url", "body", "token_path", "header", "prefix", NULL};
	static const char *const in_names[] = {"header", "query", NULL};
	static const char *const grant_names[] = {"client_credentials", "password", NULL};
	struct json_object *body;

	p->auth = PAUTH_NONE;
	if (def == NULL)
		return;
	check_keys(def, where, keys);
	p->auth = (ProfileAuthKind) get_enum(def, "type", where, auth_names, -1);
	switch (p->auth)
	{
		case PAUTH_NONE:
		case PAUTH_BASIC:
		case PAUTH_BEARER:
			break;
		case PAUTH_API_KEY:
			p->api_key_name = get_string(def, "name", where, false, "X-API-Key");
			p->api_key_in_query = get_enum(def, "in", where, in_names, 0) == 1;
			break;
		case PAUTH_OAUTH2:
			p->oauth_grant = pstrdup(grant_names[get_enum(def, "grant", where, grant_names, 0)]);
			p->oauth_token_url = get_string(def, "token_url", where, true, NULL);
			p->oauth_scope = get_string(def, "scope", where, false, NULL);
			break;
		case PAUTH_LOGIN:
			p->login_url = get_string(def, "url", where, true, NULL);
			body = get_object(def, "body", where, false);
			p->login_body = body ? pstrdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN))
				: pstrdup("{\"username\":\"{username}\",\"password\":\"{password}\"}");
			p->login_token_path = get_string(def, "token_path", where, true, NULL);
			(void) scaler_parse_path(p->login_token_path, member_path(where, "token_path"), false);
			p->login_header = get_string(def, "header", where, false, "Authorization");
			p->login_prefix = get_string(def, "prefix", where, false,
										 strcmp(p->login_header, "Authorization") == 0 ? "Bearer " : "");
			break;
	}
}

static ScalerProfile *
compile_profile(struct json_object *root)
{
	static const char *const keys[] = {"name", "description", "base_url", "environments", "auth",
	"headers", "rate_limit", "tables", "format", NULL};
	static const char *const rate_keys[] = {"per_second", "burst", "per_day", NULL};
	ScalerProfile *p = palloc0(sizeof(ScalerProfile));
	struct json_object *tables;
	int			format;
	struct json_object *rate;

	if (json_object_get_type(root) != json_type_object)
		scaler_profile_error("$", "Expected an object, found %s.", json_type_name(root));
	check_keys(root, "$", keys);
	p->name = get_string(root, "name", "$", false, "custom");
	{
		struct json_object *envs;

		if (json_object_object_get_ex(root, "environments", &envs) &&
			json_object_get_type(envs) == json_type_object)
		{
			json_object_object_foreach(envs, key, val)
			{
				(void) val;
				p->environments = lappend(p->environments, pstrdup(key));
			}
		}
	}
	p->base_url = get_string(root, "base_url", "$", false, NULL);
	if (p->base_url)
	{
		char	   *scheme;

		if (!scaler_url_is_http(p->base_url, &scheme))
			scaler_profile_error("$.base_url", "Expected an absolute http or https URL, found \"%s\".", p->base_url);
	}
	compile_auth(p, get_object(root, "auth", "$", false), "$.auth");
	get_string_map(root, "headers", "$", &p->header_names, &p->header_values);
	rate = get_object(root, "rate_limit", "$", false);
	if (rate)
	{
		check_keys(rate, "$.rate_limit", rate_keys);
		p->rate_per_sec = get_number(rate, "per_second", "$.rate_limit", 0);
		p->rate_burst = (int) get_int(rate, "burst", "$.rate_limit", 0, 1, 1000000);
		p->daily_limit = get_int(rate, "per_day", "$.rate_limit", 0, 1, INT64CONST(1000000000));
	}

	format = get_enum(root, "format", "$", response_formats, 0);
	tables = get_object(root, "tables", "$", true);
	{
		json_object_object_foreach(tables, name, def)
		{
			char	   *w = member_path("$.tables", name);

			if (json_object_get_type(def) != json_type_object)
				scaler_profile_error(w, "Expected an object, found %s.", json_type_name(def));
			p->tables = lappend(p->tables, compile_table(name, def, w, format));
		}
	}
	if (p->tables == NIL)
		scaler_profile_error("$.tables", "Expected at least one table.");

	/* Cross-references, once every table is known. */
	{
		ListCell   *lc;

		foreach(lc, p->tables)
		{
			ScalerTableSpec *t = (ScalerTableSpec *) lfirst(lc);
			ScalerTableSpec *parent;
			ListCell   *vc;

			if (t->parent_table == NULL)
				continue;
			parent = scaler_profile_table(p, t->parent_table, true);
			if (parent == NULL || parent == t)
				scaler_profile_error(psprintf("$.tables.%s.parent.table", t->name),
							  "No other table \"%s\" in this profile.", t->parent_table);
			/* Chains fan out level by level; a cycle would never end. */
			{
				ScalerTableSpec *up = parent;
				int			steps = 0;

				while (up && up->parent_table && steps++ <= list_length(p->tables))
				{
					up = scaler_profile_table(p, up->parent_table, true);
					if (up == t)
						scaler_profile_error(psprintf("$.tables.%s.parent.table", t->name),
											 "Parents form a cycle back to table \"%s\".", t->name);
				}
			}
			foreach(vc, t->parent_vars)
				if (scaler_table_field(parent, (char *) lfirst(vc)) == NULL)
					scaler_profile_error(psprintf("$.tables.%s.parent.vars", t->name),
								  "Table \"%s\" has no field \"%s\".", t->parent_table,
								  (char *) lfirst(vc));
		}
	}
	return p;
}

/* ---------- loading ---------- */

static struct json_object *
parse_json(const char *text, const char *what)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;
	enum json_tokener_error err;
	size_t		end;

	if (tok == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	obj = json_tokener_parse_ex(tok, text, (int) strlen(text) + 1);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (obj == NULL || err != json_tokener_success)
	{
		if (obj)
			json_object_put(obj);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("%s is not valid JSON", what),
				 errdetail("%s, at byte offset %zu.", json_tokener_error_desc(err), end)));
	}
	return obj;
}

/* RFC 7386: apply patch to target; returns the new target (references transferred). */
static struct json_object *
merge_patch(struct json_object *target, struct json_object *patch)
{
	if (json_object_get_type(patch) != json_type_object)
	{
		json_object_put(target);
		return json_object_get(patch);
	}
	if (target == NULL || json_object_get_type(target) != json_type_object)
	{
		json_object_put(target);
		target = json_object_new_object();
	}
	{
		json_object_object_foreach(patch, key, val)
		{
		if (json_object_get_type(val) == json_type_null)
			json_object_object_del(target, key);
		else
		{
			struct json_object *cur = NULL;

			if (json_object_object_get_ex(target, key, &cur))
				json_object_get(cur);	/* keep it alive across the replace */
			json_object_object_add(target, key, merge_patch(cur, val));
		}
	}
	}
	return target;
}

typedef struct JsonTrees
{
	struct json_object *root;
	struct json_object *patch;
} JsonTrees;

static void
free_trees(JsonTrees *trees)
{
	if (trees->root)
		json_object_put(trees->root);
	if (trees->patch)
		json_object_put(trees->patch);
	trees->root = trees->patch = NULL;
}

/*
 * A profile's environments (sandbox, production, ...) are merge patches of
 * the profile: base_url, token endpoints, whatever differs.  Applies the
 * chosen one; without a choice the profile stays as written.
 */
static struct json_object *
apply_environment(struct json_object *root, const char *environment)
{
	struct json_object *envs = NULL;
	struct json_object *patch = NULL;
	const char *name = NULL;
	struct json_object *name_obj;
	StringInfoData names;

	if (json_object_get_type(root) == json_type_object &&
		json_object_object_get_ex(root, "name", &name_obj))
		name = json_object_get_string(name_obj);
	if (json_object_get_type(root) == json_type_object)
		json_object_object_get_ex(root, "environments", &envs);
	initStringInfo(&names);
	if (envs != NULL)
	{
		if (json_object_get_type(envs) != json_type_object)
			scaler_profile_error("$.environments", "Expected an object of environment names, found %s.",
								 json_type_name(envs));
		{
			json_object_object_foreach(envs, key, val)
			{
				if (json_object_get_type(val) != json_type_object)
					scaler_profile_error(psprintf("$.environments.%s", key),
										 "Expected an object (a merge patch of the profile), found %s.",
										 json_type_name(val));
				if (json_object_object_get_ex(val, "environments", NULL))
					scaler_profile_error(psprintf("$.environments.%s.environments", key),
										 "An environment cannot declare environments.");
				appendStringInfo(&names, "%s\"%s\"", names.len ? ", " : "", key);
				if (environment && strcmp(key, environment) == 0)
					patch = val;
			}
		}
	}
	if (environment == NULL)
		return root;
	if (envs == NULL || names.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"environment\" needs a provider profile with environments"),
				 errdetail("Provider profile \"%s\" declares none.", name ? name : "custom"),
				 errhint("Use option \"base_url\" to choose where requests go.")));
	if (patch == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("provider profile \"%s\" has no environment \"%s\"", name ? name : "custom",
						environment),
				 errdetail("Its environments are %s.", names.data)));
	json_object_get(patch);		/* it lives inside root, which the merge changes */
	root = merge_patch(root, patch);
	json_object_put(patch);
	return root;
}

static pg_noinline ScalerProfile *
load_trees(JsonTrees *trees, const char *provider, const char *profile_json,
		   const char *override_json, const char *environment)
{
	if (provider)
	{
		const char *text = scaler_builtin_profile_text(provider);

		if (text == NULL)
		{
			StringInfoData names;
			ListCell   *lc;

			initStringInfo(&names);
			foreach(lc, scaler_builtin_profile_names())
				appendStringInfo(&names, "%s\"%s\"", names.len ? ", " : "", (char *) lfirst(lc));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("unknown provider \"%s\"", provider),
					 errdetail("Built-in providers are %s.", names.data),
					 errhint("Use option \"profile\" to describe another provider.")));
		}
		trees->root = parse_json(text, psprintf("built-in profile \"%s\"", provider));
	}
	else
		trees->root = parse_json(profile_json, "option \"profile\"");
	trees->root = apply_environment(trees->root, environment);
	if (override_json)
	{
		trees->patch = parse_json(override_json, "option \"profile_override\"");
		trees->root = merge_patch(trees->root, trees->patch);
	}
	return compile_profile(trees->root);
}

/*
 * Load and compile the profile of a server: a built-in (provider) or a
 * custom document (profile_json), then the override patch.  NULL if the
 * server uses no profile at all.
 */
ScalerProfile *
scaler_profile_load(const char *provider, const char *profile_json,
					const char *override_json, const char *environment)
{
	JsonTrees	trees = {NULL, NULL};
	ScalerProfile *volatile result = NULL;

	if (provider == NULL && profile_json == NULL)
		return NULL;

	PG_TRY();
	{
		result = load_trees(&trees, provider, profile_json, override_json, environment);
	}
	PG_CATCH();
	{
		free_trees(&trees);
		PG_RE_THROW();
	}
	PG_END_TRY();
	free_trees(&trees);
	return result;
}

ScalerTableSpec *
scaler_profile_table(ScalerProfile *profile, const char *name, bool missing_ok)
{
	ListCell   *lc;

	foreach(lc, profile->tables)
	{
		ScalerTableSpec *t = (ScalerTableSpec *) lfirst(lc);

		if (strcmp(t->name, name) == 0)
			return t;
	}
	if (!missing_ok)
	{
		StringInfoData names;

		initStringInfo(&names);
		foreach(lc, profile->tables)
			appendStringInfo(&names, "%s\"%s\"", names.len ? ", " : "",
							 ((ScalerTableSpec *) lfirst(lc))->name);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("provider profile \"%s\" has no table \"%s\"", profile->name, name),
				 errdetail("Its tables are %s.", names.data)));
	}
	return NULL;
}

ScalerFieldSpec *
scaler_table_field(ScalerTableSpec *table, const char *column)
{
	ListCell   *lc;

	foreach(lc, table->fields)
		if (strcmp(((ScalerFieldSpec *) lfirst(lc))->column, column) == 0)
			return (ScalerFieldSpec *) lfirst(lc);
	return NULL;
}

ScalerFilterSpec *
scaler_table_filter(ScalerTableSpec *table, const char *column)
{
	ListCell   *lc;

	foreach(lc, table->filters)
		if (strcmp(((ScalerFilterSpec *) lfirst(lc))->column, column) == 0)
			return (ScalerFilterSpec *) lfirst(lc);
	return NULL;
}

/*
 * Server option "profile_vars": {"account": "A-1B2C3D4E"}, request
 * variables every table of the profile can use in its templates.
 */
void
scaler_parse_profile_vars(const char *text, List **names, List **values)
{
	struct json_object *root = parse_json(text, "option \"profile_vars\"");
	char	   *error = NULL;

	*names = NIL;
	*values = NIL;
	if (json_object_get_type(root) != json_type_object)
		error = psprintf("Expected an object, found %s.", json_type_name(root));
	else
	{
		json_object_object_foreach(root, k, v)
		{
			if (json_object_get_type(v) != json_type_string && json_object_get_type(v) != json_type_int)
			{
				error = psprintf("Expected a string at \"%s\", found %s.", k, json_type_name(v));
				break;
			}
			*names = lappend(*names, pstrdup(k));
			*values = lappend(*values, pstrdup(json_object_get_string(v)));
		}
	}
	json_object_put(root);
	if (error)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"profile_vars\""),
				 errdetail("%s", error),
				 errhint("Give a JSON object of variable names and values, such as {\"account\": \"A-1234\"}.")));
}

/* ---------- built-in profiles, for SQL ---------- */

const char *
scaler_builtin_profile_text(const char *name)
{
	for (const ScalerBuiltinProfile *b = scaler_builtin_profile_list; b->name; b++)
		if (strcmp(b->name, name) == 0)
			return b->json;
	return NULL;
}

List *
scaler_builtin_profile_names(void)
{
	List	   *names = NIL;

	for (const ScalerBuiltinProfile *b = scaler_builtin_profile_list; b->name; b++)
		names = lappend(names, (char *) b->name);
	return names;
}

/* scaler.builtin_profiles(): (name text, document jsonb) for every built-in. */
Datum
scaler_builtin_profiles(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (const ScalerBuiltinProfile *b = scaler_builtin_profile_list; b->name; b++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(b->name);
		values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(b->json));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
