/*-------------------------------------------------------------------------
 *
 * json_records.c
 *		  Streaming extraction of records from a JSON response page.
 *
 * This is the hot path of every scan.  A DOM per page (json-c, jsonb)
 * costs more than the network on loopback (../shared/reference/
 * performance-baseline.md: json-c about 37 MB/s), so records are pulled
 * out of PostgreSQL's own event-driven parser (common/jsonapi.h, about
 * 210 MB/s) as the events arrive.
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
#include "scaler_fdw.h"
#include "profile.h"

#include <limits.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "common/hashfn.h"
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

typedef enum ValueKind
{
	VAL_NONE,					/* absent: NULL */
	VAL_NULL,
	VAL_STRING,					/* a string: the span between its quotes */
	VAL_ESCAPED,				/* the same, with backslash escapes to decode */
	VAL_LEXEME,					/* number, true, false as written (a copy) */
	VAL_RAW						/* object or array: span of the input */
} ValueKind;

/* Values point into the page body: nothing is copied until a column needs it. */
typedef struct SlotValue
{
	ValueKind	kind;
	int			len;
	char	   *str;
} SlotValue;

/* Timestamps repeat (one reading's end is the next one's start): remember recent ones. */
#define TS_CACHE_SIZE	128
#define TS_CACHE_KEYLEN	40

typedef struct TsCacheEntry
{
	int			len;			/* 0: empty */
	ValueFormat format;			/* how the value was read */
	const char *timezone;
	char		key[TS_CACHE_KEYLEN];
	Datum		value;
} TsCacheEntry;

/* Where a value is captured: level and position in that level's slots. */
typedef struct SlotRef
{
	int			level;
	int			index;
} SlotRef;

typedef struct TrieNode
{
	PathStep	step;
	int			keylen;			/* STEP_KEY */
	struct TrieNode *child;
	struct TrieNode *sibling;
	int			level_start;	/* > 0: an element of this level begins here */
	bool		records;		/* the records node: array of records, or one */
	struct TrieNode *record_root;	/* records: the node of each record */
	int			source;			/* record roots: which record source */
	SlotRef    *slots;			/* values captured here */
	int			nslots;
} TrieNode;

typedef enum ColumnSource
{
	SRC_SLOT,
	SRC_CONST,
	SRC_TEMPLATE,
	SRC_VAR
} ColumnSource;

typedef struct TemplateRef
{
	char	   *literal;
	SlotRef		slot;
} TemplateRef;

typedef struct ColumnPlan
{
	int			attidx;
	char	   *name;
	char	   *path_text;
	ColumnSource source;
	SlotRef		slot;
	char	   *const_value;
	TemplateRef *parts;
	int			nparts;
	int			var_index;
	bool		has_duration;	/* a time plus seconds read from the record */
	SlotRef		duration_slot;
	const ScalerFieldSpec *field;
	Oid			typid;
	FmgrInfo	infunc;
	Oid			ioparam;
	int32		typmod;
	bool		is_json;
} ColumnPlan;

/* One element of a level: its captured values and the element enclosing it. */
typedef struct LevelElem
{
	struct LevelElem *parent;
	int			level;
	int			source;			/* records: which record source */
	SlotValue	values[FLEXIBLE_ARRAY_MEMBER];
} LevelElem;

typedef enum FrameKind
{
	FRAME_PLAIN,
	FRAME_RECORDS_ARRAY,
	FRAME_LEVEL					/* an element of a level (a record, at the innermost) */
} FrameKind;

typedef struct Frame
{
	TrieNode   *node;
	char	   *start;
	FrameKind	kind;
	int			next_index;		/* arrays: position of the next element */
} Frame;

typedef struct LevelStart
{
	TrieNode   *node;
	int			depth;			/* steps of the records path before it */
} LevelStart;

/* One records path of a table, and how its records fill the columns. */
typedef struct RecordSource
{
	const char *records_text;
	ScalerPath *records;
	int			nlevels;		/* its records are at this level; 0 is the envelope */
	LevelStart *levels;
	ColumnPlan *cols;			/* one per column of the extractor */
} RecordSource;

struct RecordExtractor
{
	int			natts;
	int			ncols;
	RecordSource *sources;
	int			nsources;
	TrieNode   *root;
	char	   *records_text;	/* every records path, for messages */
	int		   *level_nslots;
	SlotRef		next_slot;		/* pagination captures, level 0 (index -1: none) */
	SlotRef		total_slot;
	SlotRef		cursor_slot;

	/* state of the page being parsed */
	JsonLexContext *lex;
	RecordPage *page;
	const char *request_desc;
	Frame	   *stack;
	int			depth;
	int			stack_cap;
	TrieNode   *cur;			/* node of the value about to start */
	bool		cur_is_record;	/* it is an element of the records array */
	LevelElem  *elem;			/* innermost open level element */
	LevelElem **records;		/* records of the page, in order */
	int			nrecords;
	int			records_cap;
	const char *const *var_values;
	char	   *value_start;	/* where the value about to be parsed begins */
	TsCacheEntry *ts_cache;
	MemoryContext cxt;			/* the extractor's: outlives pages */
	Datum	   *row_values;		/* reused by every page */
	bool	   *row_nulls;
	int			rows_cap;
	bool		null_on_error;	/* on_conversion_error 'null' */
	bool		careful;		/* converting a page value by value */
	int64		conversion_failures;
	char	   *first_failure;
	ColumnPlan *err_col;
	const char *err_val;
	int			err_record;
};

/* ---------- compiling the trie ---------- */

static TrieNode *
trie_child(TrieNode *node, const PathStep *step, bool create)
{
	TrieNode   *c;

	for (c = node->child; c; c = c->sibling)
	{
		if (c->step.kind != step->kind)
			continue;
		if ((step->kind == STEP_KEY && strcmp(c->step.key, step->key) == 0) ||
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
		from = trie_child(from, (PathStep *) lfirst(lc), true);
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
			node = trie_child(node, (PathStep *) lfirst(lc), true);
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

		node = trie_child(node, step, true);
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
					ListCell   *vc;
					int			vi = 0;

					col->source = SRC_VAR;
					col->path_text = psprintf("(variable %s)", f->path_text);
					col->var_index = -1;
					foreach(vc, var_names)
					{
						if (strcmp((char *) lfirst(vc), f->path_text) == 0)
							col->var_index = vi;
						vi++;
					}
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
	errcontext("column \"%s\" (JSON path \"%s\"), value \"%s\", record %d of the response to %s",
			   ex->err_col->name, ex->err_col->path_text, shown,
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

/* A JSON string with escapes, decoded by PostgreSQL's own lexer. */
static char *
decode_escaped(const SlotValue *v)
{
	/* The span between the quotes: the quotes themselves are just outside it. */
	JsonLexContext *lex = makeJsonLexContextCstringLen(v->str - 1, v->len + 2,
													  GetDatabaseEncoding(), true);
	JsonParseErrorType rc = json_lex(lex);

	/* \u0000, or a code point the server encoding lacks */
	if (rc != JSON_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("unsupported escape in a JSON string of the response"),
				 errdetail("%s", json_errdetail(rc, lex))));
	return lex->strval->data;
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
		case VAL_STRING:
		case VAL_ESCAPED:
			/* For a json column, the string as written, quotes included. */
			if (col && col->is_json)
				return pnstrdup(v->str - 1, v->len + 2);
			return v->kind == VAL_STRING ? pnstrdup(v->str, v->len) : decode_escaped(v);
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

/* One column of one record, from its text. */
static void
convert_column(RecordExtractor *ex, LevelElem *rec, ColumnPlan *col, char *text,
			   Datum *values, bool *nulls)
{
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
						if (v->kind == VAL_STRING && col->typid == TEXTOID &&
							col->field->map_from == NIL)
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
store(RecordExtractor *ex, TrieNode *node, ValueKind kind, char *str, int len)
{
	for (int i = 0; i < node->nslots; i++)
	{
		SlotValue  *v = slot_value(ex->elem, node->slots[i]);

		v->kind = kind;
		v->str = str;
		v->len = len;
	}
}

static void
push_frame(RecordExtractor *ex, FrameKind kind, TrieNode *node)
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
	f->next_index = 0;
}

static inline bool
is_record_root(RecordExtractor *ex, TrieNode *node)
{
	RecordSource *src = &ex->sources[node->source];

	return src->levels[src->nlevels].node == node;
}

static void
open_level(RecordExtractor *ex, TrieNode *node)
{
	int			level = node->level_start;
	LevelElem  *e = palloc0(offsetof(LevelElem, values) +
							sizeof(SlotValue) * ex->level_nslots[level]);

	e->parent = ex->elem;
	e->level = level;
	e->source = node->source;
	ex->elem = e;
}

static void
begin_container(RecordExtractor *ex, bool is_object)
{
	TrieNode   *cur = ex->cur;

	if (ex->cur_is_record || (cur && cur->records && is_object))
	{
		/* A record: an element of the records array, or a lone object there. */
		TrieNode   *rec = ex->cur_is_record ? cur : cur->record_root;

		if (!is_object)
			records_shape_error(ex, psprintf("Each record at path \"%s\" must be a JSON object or array of values; found nested arrays.",
											 ex->records_text));
		if (cur && cur->records && !ex->cur_is_record)
			ex->page->saw_records = true;
		open_level(ex, rec);
		push_frame(ex, FRAME_LEVEL, rec);
	}
	else if (cur && cur->records)
	{
		ex->page->saw_records = true;
		push_frame(ex, FRAME_RECORDS_ARRAY, cur);
	}
	else if (cur && cur->level_start > 0)
	{
		if (!is_object)
			records_shape_error(ex, psprintf("Elements at path \"%s\" must be JSON objects.", ex->records_text));
		open_level(ex, cur);
		push_frame(ex, FRAME_LEVEL, cur);
	}
	else
		push_frame(ex, FRAME_PLAIN, cur);
	ex->cur = NULL;
	ex->cur_is_record = false;
}

static void
end_container(RecordExtractor *ex)
{
	Frame	   *f = &ex->stack[--ex->depth];
	char	   *end = ex->lex->prev_token_terminator;

	if (f->node && f->node->nslots > 0)
		store(ex, f->node, VAL_RAW, f->start, (int) (end - f->start));
	if (f->kind == FRAME_LEVEL)
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
}

static void
on_object_start(void *state)
{
	begin_container((RecordExtractor *) state, true);
}

static void
on_array_start(void *state)
{
	RecordExtractor *ex = (RecordExtractor *) state;

	/* A record written as an array of values ([epoch, value]) */
	if (ex->cur_is_record)
	{
		open_level(ex, ex->cur);
		push_frame(ex, FRAME_LEVEL, ex->cur);
		ex->cur = NULL;
		ex->cur_is_record = false;
		return;
	}
	begin_container(ex, false);
}

static void
on_container_end(void *state)
{
	end_container((RecordExtractor *) state);
}

/*
 * The parser runs without de-escaping (PostgreSQL 15 copies every string
 * character by character when it does), so the key is read from the body:
 * it is the string token just before the colon the parser has consumed.
 */
static TrieNode *
match_key(RecordExtractor *ex, TrieNode *parent)
{
	char	   *end = ex->lex->prev_token_terminator - 1;	/* the colon */
	char	   *close;
	char	   *open;
	int			len;
	bool		escaped = false;
	TrieNode   *c;

	while (end > ex->lex->input && (end[-1] == ' ' || end[-1] == '\t' ||
									end[-1] == '\n' || end[-1] == '\r'))
		end--;
	close = end - 1;			/* the key's closing quote */
	open = close - 1;
	for (;;)
	{
		if (*open == '"')
		{
			int			backslashes = 0;

			while (open - backslashes - 1 >= ex->lex->input && open[-backslashes - 1] == '\\')
				backslashes++;
			if (backslashes % 2 == 0)
				break;
		}
		if (*open == '\\')
			escaped = true;
		open--;
	}
	len = close - open - 1;
	if (escaped)
	{
		SlotValue	v;
		char	   *key;

		v.kind = VAL_ESCAPED;
		v.str = open + 1;
		v.len = len;
		key = decode_escaped(&v);
		for (c = parent->child; c; c = c->sibling)
			if (c->step.kind == STEP_KEY && strcmp(c->step.key, key) == 0)
				return c;
		return NULL;
	}
	for (c = parent->child; c; c = c->sibling)
		if (c->step.kind == STEP_KEY && c->keylen == len && memcmp(c->step.key, open + 1, len) == 0)
			return c;
	return NULL;
}

static void
on_field_start(void *state, char *fname, bool isnull)
{
	RecordExtractor *ex = (RecordExtractor *) state;
	TrieNode   *parent = ex->stack[ex->depth - 1].node;

	ex->cur = NULL;
	ex->value_start = ex->lex->token_start;
	if (parent == NULL || parent->child == NULL)
		return;
	ex->cur = match_key(ex, parent);
}

static void
on_element_start(void *state, bool isnull)
{
	RecordExtractor *ex = (RecordExtractor *) state;
	Frame	   *f = &ex->stack[ex->depth - 1];
	PathStep	step;

	ex->cur = NULL;
	ex->cur_is_record = false;
	ex->value_start = ex->lex->token_start;
	if (f->kind == FRAME_RECORDS_ARRAY)
	{
		ex->cur = f->node->record_root;
		ex->cur_is_record = true;
		f->next_index++;
		return;
	}
	if (f->node == NULL || f->node->child == NULL)
	{
		f->next_index++;
		return;
	}
	step.kind = STEP_EACH;
	ex->cur = trie_child(f->node, &step, false);
	if (ex->cur == NULL)
	{
		step.kind = STEP_INDEX;
		step.index = f->next_index;
		ex->cur = trie_child(f->node, &step, false);
	}
	f->next_index++;
}

static void
on_scalar(void *state, char *token, JsonTokenType tokentype)
{
	RecordExtractor *ex = (RecordExtractor *) state;
	TrieNode   *cur = ex->cur;

	ex->cur = NULL;
	if (ex->cur_is_record)
		records_shape_error(ex, psprintf("Each record at path \"%s\" must be a JSON object or array; one is %s.",
										 ex->records_text, tokentype == JSON_TOKEN_NULL ? "null" : "a scalar"));
	if (cur == NULL)
		return;
	if (cur->records)
	{
		if (tokentype != JSON_TOKEN_NULL)
			records_shape_error(ex, psprintf("Expected an array of records at path \"%s\", found a scalar.",
											 ex->records_text));
		ex->page->saw_records = true;
	}
	if (cur->nslots == 0)
		return;
	if (tokentype == JSON_TOKEN_STRING)
	{
		/* The token ends where the parser stopped; between the quotes is the value. */
		char	   *str = ex->value_start + 1;
		int			len = (int) (ex->lex->prev_token_terminator - ex->value_start) - 2;

		store(ex, cur, memchr(str, '\\', len) ? VAL_ESCAPED : VAL_STRING, str, len);
	}
	else
		store(ex, cur, tokentype == JSON_TOKEN_NULL ? VAL_NULL : VAL_LEXEME,
			  token, token ? (int) strlen(token) : 0);
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
	if (v->kind == VAL_RAW)
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
	JsonSemAction sem;
	JsonParseErrorType rc;
	ErrorContextCallback errcb;
	LevelElem  *root;

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

	ex->lex = makeJsonLexContextCstringLen(body, (int) len, GetDatabaseEncoding(), false);
	ex->page = page;
	ex->request_desc = request_desc;
	ex->var_values = var_values;
	ex->depth = 0;
	ex->cur = ex->root;
	ex->cur_is_record = false;
	ex->value_start = body;
	ex->ts_cache = palloc0(sizeof(TsCacheEntry) * TS_CACHE_SIZE);
	ex->nrecords = 0;
	ex->err_col = NULL;
	root = palloc0(offsetof(LevelElem, values) + sizeof(SlotValue) * Max(ex->level_nslots[0], 1));
	ex->elem = root;

	memset(&sem, 0, sizeof(sem));
	sem.semstate = ex;
	sem.object_start = on_object_start;
	sem.object_end = on_container_end;
	sem.array_start = on_array_start;
	sem.array_end = on_container_end;
	sem.object_field_start = on_field_start;
	sem.array_element_start = on_element_start;
	sem.scalar = on_scalar;

	rc = pg_parse_json(ex->lex, &sem);
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
						request_desc, ex->records_text),
				 errhint("Check the records path against the response.")));

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
