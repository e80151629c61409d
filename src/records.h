/*-------------------------------------------------------------------------
 *
 * records.h
 *		  Internals of record extraction, shared by its two parsers.
 *
 * records.c compiles a trie per scan and turns the records of a page into
 * datums; json_records.c and xml_records.c walk that trie from their
 * parser's events, capturing values into the slots of level elements.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_RECORDS_H
#define SCALER_RECORDS_H

#include "scaler_fdw.h"
#include "profile.h"

#include "common/jsonapi.h"
#include "lib/stringinfo.h"

typedef enum ValueKind
{
	VAL_NONE,					/* absent: NULL */
	VAL_NULL,
	VAL_STRING,					/* a string: the span between its quotes */
	VAL_ESCAPED,				/* the same, with backslash escapes to decode */
	VAL_LEXEME,					/* number, true, false as written (a copy) */
	VAL_RAW,					/* object or array: span of the input */
	VAL_TEXT,					/* XML text or attribute: decoded, a copy */
	VAL_MARKUP					/* XML element with children: its markup, a copy */
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
	bool		holds_records;	/* XML: the element enclosing the first repeated one */
	bool		encloses_records;	/* XML: the element the records are in */
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
	int			power_var_index;	/* field's power_of_ten_var, or -1 */
	text	   *pattern;		/* field's pattern, as the regex functions take it */
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
	int			text_start;		/* XML: where the element's text begins in ex->text */
	bool		has_children;	/* XML: the element holds elements */
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

	bool		xml;			/* the table's responses are XML */
	TrieNode   *next_link;		/* XML: the elements among which the next-page link is */
	const ScalerPaginationSpec *pagination;

	/* state of the page being parsed */
	JsonLexContext *lex;		/* JSON */
	char	   *body;			/* XML: the page, for markup spans */
	size_t		body_len;
	char	   *xml_error;		/* XML: why the parse stopped */
	bool		saw_outer;		/* XML: a holds_records element was seen */
	int			levels_opened;	/* XML: level elements above the records seen */
	StringInfoData text;		/* XML: text of the innermost captured element */
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

/* records.c */
extern TrieNode *records_trie_child(TrieNode *node, const PathStep *step, bool create);
extern void records_store(RecordExtractor *ex, TrieNode *node, ValueKind kind, char *str, int len);
extern void records_push_frame(RecordExtractor *ex, FrameKind kind, TrieNode *node, char *start);
extern void records_open_level(RecordExtractor *ex, TrieNode *node);
extern void records_close_level(RecordExtractor *ex, Frame *f);
extern void records_shape_error(RecordExtractor *ex, const char *what) pg_attribute_noreturn();

/* json_records.c, xml_records.c: parse a page, capturing its records */
extern void records_parse_json(RecordExtractor *ex, char *body, size_t len);
extern void records_parse_xml(RecordExtractor *ex, char *body, size_t len);
extern char *json_decode_escaped(const SlotValue *v);

#endif							/* SCALER_RECORDS_H */
