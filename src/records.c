/*-------------------------------------------------------------------------
 *
 * records.c
 *		  Record extraction: from a response page to rows of datums.
 *
 * This is the hot path of every scan.  A DOM per page (json-c, jsonb)
 * costs more than the network on loopback (../shared/reference/
 * performance-baseline.md: json-c about 37 MB/s), so records are pulled
 * out of an event-driven parser as the events arrive: PostgreSQL's own
 * JSON parser (json_records.c) or libxml2's SAX2 (xml_records.c).
 *
 * One trie, compiled per scan, follows the parser from the document root:
 * it knows where the records are (a records path such as "results" or
 * "intervals[].readings[]", whose "[]" steps are nesting levels), which
 * values to capture at each level (the fields a query reads, template
 * placeholders, pagination values such as the next-page URL), and ignores
 * everything else.  Each element of a level gets a small slot array, linked
 * to the element that encloses it, so a record can use fields of its
 * enclosing elements, whatever order the provider writes the keys in.
 * When the page is parsed, every record becomes datums through the column
 * type's input function (or an exact conversion for epoch times).
 *
 * Everything a page produces lives in the caller's per-page memory context,
 * which the scan resets before the next page.
 *
 *-------------------------------------------------------------------------
 */
#include "records.h"

#include <limits.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

/* ---------- compiling the trie ---------- */

TrieNode *
records_trie_child(TrieNode *node, const PathStep *step, bool create)
{
	TrieNode   *c;

	for (c = node->child; c; c = c->sibling)
	{
		if (c->step.kind != step->kind)
			continue;
		if ((step->kind == STEP_KEY && strcmp(c->step.key, step->key) == 0 &&
			 (c->step.pred_attr == NULL) == (step->pred_attr == NULL) &&
			 (step->pred_attr == NULL || (strcmp(c->step.pred_attr, step->pred_attr) == 0 &&
										  c->step.pred_regex == step->pred_regex &&
										  strcmp(c->step.pred_value, step->pred_value) == 0))) ||
			(step->kind == STEP_INDEX && c->step.index == step->index) ||
			step->kind == STEP_EACH)
			return c;
	}
	if (!create)
		return NULL;
	c = palloc0(sizeof(TrieNode));
	c->step = *step;
	if (step->kind == STEP_KEY)
		c->keylen = strlen(step->key);
	c->sibling = node->child;
	node->child = c;
	return c;
}

static TrieNode *
trie_walk(TrieNode *from, ScalerPath *path)
{
	ListCell   *lc;

	foreach(lc, path)
		from = records_trie_child(from, (PathStep *) lfirst(lc), true);
	return from;
}

static SlotRef
add_slot(RecordExtractor *ex, TrieNode *node, int level)
{
	SlotRef		ref;

	/* One slot per node and level is enough: fields reading the same value share it. */
	for (int i = 0; i < node->nslots; i++)
		if (node->slots[i].level == level)
			return node->slots[i];
	ref.level = level;
	ref.index = ex->level_nslots[level]++;
	node->slots = node->slots ? repalloc(node->slots, sizeof(SlotRef) * (node->nslots + 1))
		: palloc(sizeof(SlotRef));
	node->slots[node->nslots++] = ref;
	return ref;
}

/*
 * Resolve a field path to a slot.  "$.a.b" is absolute from the document;
 * a path that repeats the records path up to one of its "[]" steps
 * ("intervals[].meter_uid") is relative to that level's element; anything
 * else is relative to the record.
 */
static SlotRef
field_slot(RecordExtractor *ex, RecordSource *src, const char *path_text, const char *where)
{
	LevelStart *levels = src->levels;
	ScalerPath *records = src->records;
	ScalerPath *path;
	int			level = src->nlevels;
	ListCell   *lc;
	int			skip = 0;

	if (strncmp(path_text, "$.", 2) == 0)
	{
		path = scaler_parse_path(path_text + 2, where, false);
		return add_slot(ex, trie_walk(ex->root, path), 0);
	}
	path = scaler_parse_path(path_text, where, true);

	/* The longest prefix of the records path ending in "[]" that this path repeats. */
	for (int l = src->nlevels - 1; l >= 1; l--)
	{
		int			n = levels[l].depth;
		bool		match = list_length(path) > n;

		for (int i = 0; match && i < n; i++)
		{
			PathStep   *a = (PathStep *) list_nth(path, i);
			PathStep   *b = (PathStep *) list_nth(records, i);

			match = a->kind == b->kind &&
				(a->kind != STEP_KEY || strcmp(a->key, b->key) == 0) &&
				(a->kind != STEP_INDEX || a->index == b->index);
		}
		if (match)
		{
			level = l;
			skip = n;
			break;
		}
	}
	if (skip == 0)
	{
		foreach(lc, path)
			if (((PathStep *) lfirst(lc))->kind == STEP_EACH)
				scaler_profile_error(where,
									 "\"[]\" in a field path must repeat the records path \"%s\" up to one of its \"[]\".",
									 src->records_text);
		return add_slot(ex, trie_walk(levels[src->nlevels].node, path), level);
	}
	{
		TrieNode   *node = levels[level].node;
		int			i = 0;

		foreach(lc, path)
		{
			if (i++ < skip)
				continue;
			node = records_trie_child(node, (PathStep *) lfirst(lc), true);
		}
		return add_slot(ex, node, level);
	}
}

/* Build the trie nodes of one records path, and its levels. */
static void
build_source(RecordExtractor *ex, RecordSource *src, int index, const char *records_text,
			 ScalerPath *path)
{
	ScalerPath *records = list_copy(path);
	int			nsteps = list_length(records);
	TrieNode   *node = ex->root;
	ListCell   *lc;
	int			i = 0;
	bool		marked = false;

	/* "results[]" means the same as "results": the last "[]" is implicit. */
	if (nsteps > 0 && ((PathStep *) llast(records))->kind == STEP_EACH)
		records = list_truncate(records, --nsteps);
	src->records_text = records_text;
	src->records = records;
	src->levels = palloc0(sizeof(LevelStart) * (nsteps + 2));
	src->levels[0].node = ex->root;
	foreach(lc, records)
	{
		PathStep   *step = (PathStep *) lfirst(lc);

		/* XML: the element enclosing the first repeated one; an empty page still has it */
		if (!marked && (lnext(records, lc) == NULL ||
						((PathStep *) lfirst(lnext(records, lc)))->kind == STEP_EACH))
		{
			node->holds_records = true;
			marked = true;
		}
		if (lnext(records, lc) == NULL)
			node->encloses_records = true;
		node = records_trie_child(node, step, true);
		i++;
		if (step->kind == STEP_EACH)
		{
			src->nlevels++;
			node->level_start = src->nlevels;
			src->levels[src->nlevels].node = node;
			src->levels[src->nlevels].depth = i;
		}
	}
	if (node->records)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("records path \"%s\" is given twice", records_text)));
	node->records = true;
	node->record_root = palloc0(sizeof(TrieNode));
	src->nlevels++;
	node->record_root->level_start = src->nlevels;
	node->record_root->source = index;
	src->levels[src->nlevels].node = node->record_root;
	src->levels[src->nlevels].depth = nsteps;
}

/* Where a request variable is in var_names (the last of its name), or -1. */
static int
var_position(List *var_names, const char *name)
{
	int			pos = -1;
	int			i = 0;
	ListCell   *lc;

	foreach(lc, var_names)
	{
		if (strcmp((char *) lfirst(lc), name) == 0)
			pos = i;
		i++;
	}
	return pos;
}

/* How the records of one source fill the columns. */
static void
compile_columns(RecordExtractor *ex, RecordSource *src, TupleDesc tupdesc, List *columns,
				List *overrides, List *var_names)
{
	ListCell   *lc;
	int			i = 0;

	src->cols = palloc0(sizeof(ColumnPlan) * Max(list_length(columns), 1));
	foreach(lc, columns)
	{
		RecordColumn *rc = (RecordColumn *) lfirst(lc);
		const ScalerFieldSpec *f = rc->field;
		ColumnPlan *col = &src->cols[i++];
		Form_pg_attribute att = TupleDescAttr(tupdesc, rc->attnum - 1);
		char	   *where = psprintf("field \"%s\"", rc->name);
		Oid			infuncid;
		ListCell   *oc;

		/* A source's own field wins, unless the column names its path itself. */
		if (!rc->explicit_path)
			foreach(oc, overrides)
				if (strcmp(((ScalerFieldSpec *) lfirst(oc))->column, rc->name) == 0)
					f = (ScalerFieldSpec *) lfirst(oc);

		col->attidx = rc->attnum - 1;
		col->name = pstrdup(rc->name);
		col->power_var_index = -1;
		if (f->pattern)
			col->pattern = cstring_to_text(f->pattern);
		if (f->power_of_ten_var)
		{
			col->power_var_index = var_position(var_names, f->power_of_ten_var);
			if (col->power_var_index < 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("field \"%s\" is scaled by request variable \"%s\", which this table does not have",
								rc->name, f->power_of_ten_var),
						 errhint("Variables come from the table's parent (\"parent.vars\"), path filters, or the server option \"profile_vars\".")));
		}
		col->field = f;
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		col->is_json = (att->atttypid == JSONOID || att->atttypid == JSONBOID);
		getTypeInputInfo(att->atttypid, &infuncid, &col->ioparam);
		fmgr_info(infuncid, &col->infunc);

		if ((f->format == FMT_EPOCH || f->format == FMT_EPOCH_MS || f->format == FMT_DATE ||
			 f->format == FMT_ISO8601) &&
			att->atttypid != TIMESTAMPTZOID)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" must be of type timestamptz for a field in a time format",
							rc->name),
					 errdetail("Its type is %s.", format_type_be(att->atttypid))));

		switch (f->kind)
		{
			case FIELD_PATH:
				col->source = SRC_SLOT;
				col->path_text = f->path_text;
				col->slot = field_slot(ex, src, f->path_text, where);
				if (f->duration_path)
				{
					col->has_duration = true;
					col->duration_slot = field_slot(ex, src, f->duration_path, where);
				}
				break;
			case FIELD_CONST:
				col->source = SRC_CONST;
				col->const_value = f->const_value;
				col->path_text = "(constant)";
				break;
			case FIELD_TEMPLATE:
				{
					ListCell   *pc;
					int			n = 0;

					col->source = SRC_TEMPLATE;
					col->path_text = "(template)";
					col->parts = palloc0(sizeof(TemplateRef) * list_length(f->template_parts));
					foreach(pc, f->template_parts)
					{
						TemplatePart *tp = (TemplatePart *) lfirst(pc);

						if (tp->literal)
							col->parts[n].literal = tp->literal;
						else
							col->parts[n].slot = field_slot(ex, src, tp->path_text, where);
						n++;
					}
					col->nparts = n;
					break;
				}
			case FIELD_VAR:
				{
					col->source = SRC_VAR;
					col->path_text = psprintf("(variable %s)", f->path_text);
					col->var_index = var_position(var_names, f->path_text);
					if (col->var_index < 0)
						ereport(ERROR,
								(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
								 errmsg("field \"%s\" reads request variable \"%s\", which this table does not have",
										rc->name, f->path_text),
								 errhint("Variables come from the table's parent (\"parent.vars\"), path filters, or the server option \"profile_vars\".")));
					break;
				}
		}
	}
}

/*
 * XML: an element goes down one branch of the trie, so paths may not read
 * the same element both with and without a condition ("link.@href" and
 * "link[@rel=self].@href"), nor under two conditions it could meet at once.
 */
static void
check_element_branches(TrieNode *node)
{
	for (TrieNode *a = node->child; a; a = a->sibling)
	{
		for (TrieNode *b = a->sibling; b; b = b->sibling)
			if (a->step.kind == STEP_KEY && b->step.kind == STEP_KEY &&
				strcmp(a->step.key, b->step.key) == 0 &&
				!(a->step.pred_attr && b->step.pred_attr &&
				  strcmp(a->step.pred_attr, b->step.pred_attr) == 0))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("paths read XML element \"%s\" both %s", a->step.key,
								a->step.pred_attr && b->step.pred_attr ? "under two different conditions"
								: "with and without a condition"),
						 errhint("Give every path through \"%s\" the same attribute in its condition (\"%s[@rel=...]\").",
								 a->step.key, a->step.key)));
		check_element_branches(a);
	}
	if (node->record_root)
		check_element_branches(node->record_root);
}

RecordExtractor *
records_compile(TupleDesc tupdesc, List *columns, const ScalerTableSpec *table,
				List *var_names)
{
	RecordExtractor *ex = palloc0(sizeof(RecordExtractor));
	ListCell   *lc;
	int			maxlevels = 0;
	int			i;

	ex->natts = tupdesc->natts;
	ex->cxt = CurrentMemoryContext;
	ex->root = palloc0(sizeof(TrieNode));
	ex->xml = table->xml;
	ex->pagination = &table->pagination;

	/* The table's records path, and any more it reads records from. */
	ex->nsources = 1 + list_length(table->more_sources);
	ex->sources = palloc0(sizeof(RecordSource) * ex->nsources);
	build_source(ex, &ex->sources[0], 0, table->records_text, table->records);
	i = 1;
	foreach(lc, table->more_sources)
	{
		ScalerRecordSource *ms = (ScalerRecordSource *) lfirst(lc);

		build_source(ex, &ex->sources[i], i, ms->records_text, ms->records);
		i++;
	}
	for (i = 0; i < ex->nsources; i++)
		maxlevels = Max(maxlevels, ex->sources[i].nlevels);
	ex->records_text = pstrdup(table->records_text);
	foreach(lc, table->more_sources)
		ex->records_text = psprintf("%s\" or \"%s", ex->records_text,
									((ScalerRecordSource *) lfirst(lc))->records_text);
	ex->level_nslots = palloc0(sizeof(int) * (maxlevels + 1));

	ex->next_slot.index = ex->total_slot.index = ex->cursor_slot.index = -1;
	if (table->pagination.kind == PAGINATE_NEXT_LINK)
		ex->next_link = trie_walk(ex->root, scaler_parse_path(table->pagination.next_path, "pagination.path", false));
	if (table->pagination.kind == PAGINATE_NEXT_URL)
		ex->next_slot = add_slot(ex, trie_walk(ex->root, scaler_parse_path(table->pagination.next_path, "pagination.path", false)), 0);
	if (table->pagination.total_path)
		ex->total_slot = add_slot(ex, trie_walk(ex->root, scaler_parse_path(table->pagination.total_path, "pagination.total_path", false)), 0);
	if (table->pagination.kind == PAGINATE_CURSOR)
		ex->cursor_slot = add_slot(ex, trie_walk(ex->root, scaler_parse_path(table->pagination.cursor_path, "pagination.cursor_path", false)), 0);

	compile_columns(ex, &ex->sources[0], tupdesc, columns, NIL, var_names);
	i = 1;
	foreach(lc, table->more_sources)
		compile_columns(ex, &ex->sources[i++], tupdesc, columns,
						((ScalerRecordSource *) lfirst(lc))->fields, var_names);
	ex->ncols = list_length(columns);
	if (ex->xml)
		check_element_branches(ex->root);
	ex->stack_cap = 16;
	ex->stack = palloc(sizeof(Frame) * ex->stack_cap);
	return ex;
}

/* ---------- turning a record into datums ---------- */

static void
conversion_error_callback(void *arg)
{
	RecordExtractor *ex = (RecordExtractor *) arg;
	char	   *shown;

	if (ex->err_col == NULL || ex->err_val == NULL)
		return;
	shown = pnstrdup(ex->err_val, 60);
	if (strlen(ex->err_val) > 60)
		shown = psprintf("%s...", shown);
	errcontext("column \"%s\" (%s path \"%s\"), value \"%s\", record %d of the response to %s",
			   ex->err_col->name, ex->xml ? "XML" : "JSON", ex->err_col->path_text, shown,
			   ex->err_record, ex->request_desc);
}

/* The slot of ref in elem or the element enclosing it at ref's level. */
static inline SlotValue *
slot_value(LevelElem *elem, SlotRef ref)
{
	while (elem->level > ref.level)
		elem = elem->parent;
	return &elem->values[ref.index];
}

/* The text a slot holds, NUL-terminated, as a column's input function reads it. */
static char *
slot_cstring(const ColumnPlan *col, const SlotValue *v)
{
	switch (v->kind)
	{
		case VAL_NONE:
		case VAL_NULL:
			return NULL;
		case VAL_LEXEME:
			return v->str;
		case VAL_RAW:
			return pnstrdup(v->str, v->len);
		case VAL_TEXT:
		case VAL_MARKUP:
			{
				/* XML values are UTF-8 until here; converted outside the parse */
				char	   *t = GetDatabaseEncoding() == PG_UTF8 ? v->str :
					pg_any_to_server(v->str, v->len, PG_UTF8);

				/* XML has no JSON form: a json column gets the text as a JSON string. */
				if (col && col->is_json)
				{
					StringInfoData buf;

					initStringInfo(&buf);
					escape_json(&buf, t);
					return buf.data;
				}
				return t;
			}
		case VAL_STRING:
		case VAL_ESCAPED:
			/* For a json column, the string as written, quotes included. */
			if (col && col->is_json)
				return pnstrdup(v->str - 1, v->len + 2);
			return v->kind == VAL_STRING ? pnstrdup(v->str, v->len) : json_decode_escaped(v);
	}
	return NULL;
}

static bool
has_utc_offset(const char *s)
{
	/* After the date part: a Z, or a sign before the offset. */
	const char *t = strpbrk(s, "Tt ");

	if (t == NULL)
		return false;
	return strpbrk(t, "Zz+-") != NULL;
}

static Datum
timestamptz_datum(const ColumnPlan *col, const char *text)
{
	const ScalerFieldSpec *f = col->field;

	if (f->format == FMT_EPOCH || f->format == FMT_EPOCH_MS)
	{
		char	   *end;
		double		v;
		int64		usecs;

		errno = 0;
		v = strtod(text, &end);
		if (errno != 0 || end == text || *end != '\0' || isnan(v) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
					 errmsg("invalid epoch time: \"%s\"", text)));
		usecs = (int64) rint(v * (f->format == FMT_EPOCH ? 1000000.0 : 1000.0));
		return TimestampTzGetDatum(usecs - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
	}
	if (has_utc_offset(text))
		return DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(col->typmod));

	/* A naive date or date-time is local time of the field's zone, or UTC. */
	return DirectFunctionCall2(timestamp_zone,
							   CStringGetTextDatum(f->timezone ? f->timezone : "UTC"),
							   DirectFunctionCall3(timestamp_in, CStringGetDatum(text),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

static Datum
column_datum(RecordExtractor *ex, ColumnPlan *col, char *text)
{
	const ScalerFieldSpec *f = col->field;

	if (f->map_from != NIL)
	{
		ListCell   *a,
				   *b;
		bool		mapped = false;

		forboth(a, f->map_from, b, f->map_to)
		{
			if (strcmp((char *) lfirst(a), text) == 0)
			{
				text = (char *) lfirst(b);
				mapped = true;
				break;
			}
		}
		if (!mapped && f->has_map_default)
			text = f->map_default;
	}
	ex->err_col = col;
	ex->err_val = text;
	if (col->typid == TIMESTAMPTZOID)
	{
		int			len = strlen(text);
		TsCacheEntry *e = NULL;
		Datum		t;

		/* Shared by every time column read the same way (start and end, say). */
		if (len < TS_CACHE_KEYLEN && f->add == NULL)
		{
			e = &ex->ts_cache[hash_bytes((const unsigned char *) text, len) % TS_CACHE_SIZE];
			if (e->len == len && e->format == f->format &&
				(e->timezone == f->timezone ||
				 (e->timezone && f->timezone && strcmp(e->timezone, f->timezone) == 0)) &&
				memcmp(e->key, text, len) == 0)
				return e->value;
		}
		t = timestamptz_datum(col, text);
		if (f->add)
			t = DirectFunctionCall2(timestamptz_pl_interval, t, IntervalPGetDatum(f->add));
		if (e)
		{
			e->len = len;
			e->format = f->format;
			e->timezone = f->timezone;
			memcpy(e->key, text, len);
			e->value = t;
		}
		return t;
	}
	return InputFunctionCall(&col->infunc, text, col->ioparam, col->typmod);
}

/* A field's pattern: its first parenthesized group, or the whole match; NULL if none. */
static char *
apply_pattern(ColumnPlan *col, char *value)
{
	LOCAL_FCINFO(fcinfo, 2);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 2, DEFAULT_COLLATION_OID, NULL, NULL);
	fcinfo->args[0].value = PointerGetDatum(cstring_to_text(value));
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = PointerGetDatum(col->pattern);
	fcinfo->args[1].isnull = false;
	result = textregexsubstr(fcinfo);
	return fcinfo->isnull ? NULL : TextDatumGetCString(result);
}

/* value x 10^n, exactly, for values given as digits and a decimal exponent (ESPI). */
static char *
apply_power_of_ten(RecordExtractor *ex, ColumnPlan *col, char *text)
{
	const char *n = ex->var_values ? ex->var_values[col->power_var_index] : NULL;
	char	   *end;
	long		exp;
	Datum		v;

	if (n == NULL)
		return NULL;			/* no multiplier known: no value, rather than a wrong one */
	errno = 0;
	exp = strtol(n, &end, 10);
	if (errno != 0 || end == n || *end != '\0' || exp < -30 || exp > 30)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid power of ten \"%s\" for column \"%s\"", n, col->name),
				 errdetail("Variable \"%s\" must be a whole number from -30 to 30.",
						   col->field->power_of_ten_var)));
	v = DirectFunctionCall3(numeric_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid),
							Int32GetDatum(-1));
	v = DirectFunctionCall2(numeric_mul, v,
							DirectFunctionCall3(numeric_in, CStringGetDatum(psprintf("1e%ld", exp)),
												ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	return DatumGetCString(DirectFunctionCall1(numeric_out, v));
}

/* One column of one record, from its text. */
static void
convert_column(RecordExtractor *ex, LevelElem *rec, ColumnPlan *col, char *text,
			   Datum *values, bool *nulls)
{
	ex->err_col = col;
	ex->err_val = text;
	if (col->pattern)
		text = apply_pattern(col, text);
	if (text && col->power_var_index >= 0)
		text = apply_power_of_ten(ex, col, text);
	if (text == NULL)
		return;					/* stays NULL */
	values[col->attidx] = column_datum(ex, col, text);
	nulls[col->attidx] = false;
	if (col->has_duration)
	{
		char	   *secs = slot_cstring(NULL, slot_value(rec, col->duration_slot));
		char	   *end;
		double		d;

		if (secs == NULL)
		{
			nulls[col->attidx] = true;	/* no duration, no end */
			return;
		}
		ex->err_val = secs;
		errno = 0;
		d = strtod(secs, &end);
		if (errno != 0 || end == secs || *end != '\0' || isnan(d) || isinf(d))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid duration in seconds: \"%s\"", secs)));
		values[col->attidx] = TimestampTzGetDatum(DatumGetTimestampTz(values[col->attidx]) +
												  (int64) rint(d * USECS_PER_SEC));
	}
}

/*
 * Run fn(arg) in a subtransaction: the only safe way to catch an input
 * function's error.  A data error (class 22) is returned, for the caller to
 * make a NULL of; anything else (a cancel, out of memory) is thrown on.
 */
static ErrorData *
catch_data_error(void (*fn) (void *), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			ReThrowError(edata);
		FlushErrorState();
	}
	PG_END_TRY();
	return edata;
}

typedef struct ConvertArgs
{
	RecordExtractor *ex;
	LevelElem  *rec;
	ColumnPlan *col;
	char	   *text;
	Datum	   *values;
	bool	   *nulls;
} ConvertArgs;

static void
convert_column_cb(void *arg)
{
	ConvertArgs *a = (ConvertArgs *) arg;

	convert_column(a->ex, a->rec, a->col, a->text, a->values, a->nulls);
}

/* on_conversion_error 'null': a value its column's type refuses becomes NULL. */
static void
convert_column_carefully(RecordExtractor *ex, LevelElem *rec, ColumnPlan *col, char *text,
						 Datum *values, bool *nulls)
{
	ConvertArgs args = {ex, rec, col, text, values, nulls};
	ErrorData  *edata = catch_data_error(convert_column_cb, &args);

	if (edata == NULL)
		return;
	if (ex->conversion_failures++ == 0)
		ex->first_failure = MemoryContextStrdup(ex->cxt,
												edata->context ? psprintf("%s (%s)", edata->message, edata->context)
												: edata->message);
	FreeErrorData(edata);
	nulls[col->attidx] = true;
}

static void
emit_records(RecordExtractor *ex)
{
	RecordPage *page = ex->page;
	int			natts = ex->natts;

	page->nrows = ex->nrecords;
	if (ex->nrecords == 0)
		return;
	/* Row arrays are reused from page to page: no allocation per page. */
	if (ex->nrecords > ex->rows_cap)
	{
		if (ex->row_values)
		{
			pfree(ex->row_values);
			pfree(ex->row_nulls);
		}
		ex->rows_cap = Max(ex->nrecords, ex->rows_cap * 2);
		ex->row_values = MemoryContextAllocExtended(ex->cxt, sizeof(Datum) * natts * ex->rows_cap,
													MCXT_ALLOC_HUGE);
		ex->row_nulls = MemoryContextAllocExtended(ex->cxt, sizeof(bool) * natts * ex->rows_cap,
												   MCXT_ALLOC_HUGE);
	}
	page->values = ex->row_values;
	page->nulls = ex->row_nulls;
	for (int r = 0; r < ex->nrecords; r++)
	{
		LevelElem  *rec = ex->records[r];
		Datum	   *values = page->values + (size_t) r * natts;
		bool	   *nulls = page->nulls + (size_t) r * natts;
		ColumnPlan *cols = ex->sources[rec->source].cols;

		memset(nulls, true, sizeof(bool) * natts);
		ex->err_record = r + 1;

		for (int i = 0; i < ex->ncols; i++)
		{
			ColumnPlan *col = &cols[i];
			char	   *text = NULL;

			switch (col->source)
			{
				case SRC_SLOT:
					{
						SlotValue  *v = slot_value(rec, col->slot);

						/* text straight from the body: what textin would do, minus a copy */
						if ((v->kind == VAL_STRING ||
							 (v->kind == VAL_TEXT && GetDatabaseEncoding() == PG_UTF8)) &&
							col->typid == TEXTOID && col->field->map_from == NIL &&
							col->pattern == NULL && col->power_var_index < 0)
						{
							values[col->attidx] = PointerGetDatum(cstring_to_text_with_len(v->str, v->len));
							nulls[col->attidx] = false;
							continue;
						}
						text = slot_cstring(col, v);
						break;
					}
				case SRC_CONST:
					text = col->const_value;
					break;
				case SRC_VAR:
					text = ex->var_values ? (char *) ex->var_values[col->var_index] : NULL;
					break;
				case SRC_TEMPLATE:
					{
						StringInfoData buf;

						initStringInfo(&buf);
						for (int p = 0; p < col->nparts && buf.data; p++)
						{
							SlotValue  *v;

							if (col->parts[p].literal)
							{
								appendStringInfoString(&buf, col->parts[p].literal);
								continue;
							}
							v = slot_value(rec, col->parts[p].slot);
							if (v->kind == VAL_NONE || v->kind == VAL_NULL)
								buf.data = NULL;	/* a missing part makes the whole value NULL */
							else
								appendStringInfoString(&buf, slot_cstring(NULL, v));
						}
						text = buf.data;
						break;
					}
			}
			if (text == NULL)
				continue;
			if (ex->careful)
				convert_column_carefully(ex, rec, col, text, values, nulls);
			else
				convert_column(ex, rec, col, text, values, nulls);
		}
		if ((r & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	ex->err_col = NULL;
}

static void
emit_records_cb(void *arg)
{
	emit_records((RecordExtractor *) arg);
}

/*
 * With on_conversion_error 'null', the page is converted inside one
 * subtransaction; only a page with a bad value is converted again, value by
 * value, each in its own.
 */
static void
emit_records_guarded(RecordExtractor *ex)
{
	ErrorData  *edata = catch_data_error(emit_records_cb, ex);

	if (edata == NULL)
		return;
	FreeErrorData(edata);
	ex->careful = true;
	emit_records(ex);
	ex->careful = false;
}

void
records_set_null_on_error(RecordExtractor *ex, bool on)
{
	ex->null_on_error = on;
}

int64
records_conversion_failures(RecordExtractor *ex, const char **first)
{
	*first = ex->first_failure;
	return ex->conversion_failures;
}
/* ---------- shared by the parsers ---------- */

void
records_shape_error(RecordExtractor *ex, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("unexpected %s in the response to %s", ex->xml ? "XML" : "JSON", ex->request_desc),
			 errdetail("%s", what)));
}

void
records_store(RecordExtractor *ex, TrieNode *node, ValueKind kind, char *str, int len)
{
	for (int i = 0; i < node->nslots; i++)
	{
		SlotValue  *v = slot_value(ex->elem, node->slots[i]);

		v->kind = kind;
		v->str = str;
		v->len = len;
	}
}

void
records_push_frame(RecordExtractor *ex, FrameKind kind, TrieNode *node, char *start)
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
	f->start = start;
	f->next_index = 0;
}

static inline bool
is_record_root(RecordExtractor *ex, TrieNode *node)
{
	RecordSource *src = &ex->sources[node->source];

	return src->levels[src->nlevels].node == node;
}

void
records_open_level(RecordExtractor *ex, TrieNode *node)
{
	int			level = node->level_start;
	LevelElem  *e = palloc0(offsetof(LevelElem, values) +
							sizeof(SlotValue) * ex->level_nslots[level]);

	e->parent = ex->elem;
	e->level = level;
	e->source = node->source;
	ex->elem = e;
}

/* The end of a level element: a record joins the page's records. */
void
records_close_level(RecordExtractor *ex, Frame *f)
{
	LevelElem  *e = ex->elem;

	if (is_record_root(ex, f->node))
	{
		if (ex->nrecords == ex->records_cap)
		{
			ex->records_cap = Max(ex->records_cap * 2, 256);
			ex->records = ex->records ? repalloc_huge(ex->records, sizeof(LevelElem *) * ex->records_cap)
				: MemoryContextAllocExtended(ex->cxt, sizeof(LevelElem *) * ex->records_cap,
											 MCXT_ALLOC_HUGE);
		}
		ex->records[ex->nrecords++] = e;
	}
	ex->elem = e->parent;
}

static char *
envelope_text(RecordExtractor *ex, LevelElem *root, SlotRef ref, const char *what)
{
	SlotValue  *v;

	if (ref.index < 0)
		return NULL;
	v = &root->values[ref.index];
	if (v->kind == VAL_NONE || v->kind == VAL_NULL)
		return NULL;
	if (v->kind == VAL_RAW || v->kind == VAL_MARKUP)
		records_shape_error(ex, psprintf("The %s must be a string or a number.", what));
	if (v->len == 0)
		return NULL;
	return slot_cstring(NULL, v);
}

/*
 * Parse one page.  var_values are the request variables of the request
 * that produced it, in the order given to records_compile.
 */
void
records_parse_page(RecordExtractor *ex, char *body, size_t len, RecordPage *page,
				   const char *request_desc, const char *const *var_values)
{
	ErrorContextCallback errcb;
	LevelElem  *root;

	memset(page, 0, sizeof(*page));
	if (len > (size_t) INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response to %s is too large to parse (%zu bytes)", request_desc, len)));

	ex->page = page;
	ex->request_desc = request_desc;
	ex->var_values = var_values;
	ex->depth = 0;
	ex->cur = ex->root;
	ex->cur_is_record = false;
	ex->ts_cache = palloc0(sizeof(TsCacheEntry) * TS_CACHE_SIZE);
	ex->nrecords = 0;
	ex->err_col = NULL;
	root = palloc0(offsetof(LevelElem, values) + sizeof(SlotValue) * Max(ex->level_nslots[0], 1));
	ex->elem = root;

	if (ex->xml)
		records_parse_xml(ex, body, len);
	else
		records_parse_json(ex, body, len);

	if (!page->saw_records)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("the response to %s has no records at path \"%s\"",
						request_desc, ex->records_text),
				 errhint("Check the records path against the response.")));

	if (ex->next_slot.index >= 0)
		page->next_url = envelope_text(ex, root, ex->next_slot, "next-page URL");
	page->cursor = envelope_text(ex, root, ex->cursor_slot, "cursor");
	{
		char	   *total = envelope_text(ex, root, ex->total_slot, "total");

		page->total = -1;
		if (total)
		{
			char	   *end;

			errno = 0;
			page->total = strtoll(total, &end, 10);
			if (errno != 0 || *end != '\0' || page->total < 0)
				records_shape_error(ex, psprintf("The total at path \"%s\" is not a whole number: \"%s\".",
												 "pagination.total_path", total));
		}
	}

	errcb.callback = conversion_error_callback;
	errcb.arg = ex;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	if (ex->null_on_error)
		emit_records_guarded(ex);
	else
		emit_records(ex);
	error_context_stack = errcb.previous;
}
