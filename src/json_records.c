/*-------------------------------------------------------------------------
 *
 * json_records.c
 *		  JSON responses: PostgreSQL's event-driven parser walks the trie.
 *
 * PostgreSQL's parser (common/jsonapi.h, about 210 MB/s) calls back per
 * key, element and scalar; records.c's trie says which of them matter.
 * Strings are captured as spans of the page, never copied here: records.c
 * decodes a span only when a column reads it.
 *
 *-------------------------------------------------------------------------
 */
#include "records.h"

#include <limits.h>

#include "mb/pg_wchar.h"

/* A JSON string with escapes, decoded by PostgreSQL's own lexer. */
char *
json_decode_escaped(const SlotValue *v)
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
		records_open_level(ex, rec);
		records_push_frame(ex, FRAME_LEVEL, rec, ex->lex->token_start);
	}
	else if (cur && cur->records)
	{
		ex->page->saw_records = true;
		records_push_frame(ex, FRAME_RECORDS_ARRAY, cur, ex->lex->token_start);
	}
	else if (cur && cur->level_start > 0)
	{
		if (!is_object)
			records_shape_error(ex, psprintf("Elements at path \"%s\" must be JSON objects.", ex->records_text));
		records_open_level(ex, cur);
		records_push_frame(ex, FRAME_LEVEL, cur, ex->lex->token_start);
	}
	else
		records_push_frame(ex, FRAME_PLAIN, cur, ex->lex->token_start);
	ex->cur = NULL;
	ex->cur_is_record = false;
}

static void
end_container(RecordExtractor *ex)
{
	Frame	   *f = &ex->stack[--ex->depth];
	char	   *end = ex->lex->prev_token_terminator;

	if (f->node && f->node->nslots > 0)
		records_store(ex, f->node, VAL_RAW, f->start, (int) (end - f->start));
	if (f->kind == FRAME_LEVEL)
		records_close_level(ex, f);
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
		records_open_level(ex, ex->cur);
		records_push_frame(ex, FRAME_LEVEL, ex->cur, ex->lex->token_start);
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
		key = json_decode_escaped(&v);
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
	ex->cur = records_trie_child(f->node, &step, false);
	if (ex->cur == NULL)
	{
		step.kind = STEP_INDEX;
		step.index = f->next_index;
		ex->cur = records_trie_child(f->node, &step, false);
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

		records_store(ex, cur, memchr(str, '\\', len) ? VAL_ESCAPED : VAL_STRING, str, len);
	}
	else
		records_store(ex, cur, tokentype == JSON_TOKEN_NULL ? VAL_NULL : VAL_LEXEME,
			  token, token ? (int) strlen(token) : 0);
}

void
records_parse_json(RecordExtractor *ex, char *body, size_t len)
{
	JsonSemAction sem;
	JsonParseErrorType rc;

	/* JSON is UTF-8 on the wire; text columns must hold the server encoding. */
	if (GetDatabaseEncoding() == PG_UTF8)
		pg_verify_mbstr(PG_UTF8, body, (int) len, false);
	else
	{
		body = pg_any_to_server(body, (int) len, PG_UTF8);
		len = strlen(body);
	}

	ex->lex = makeJsonLexContextCstringLen(body, (int) len, GetDatabaseEncoding(), false);
	ex->value_start = body;

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
				 errmsg("invalid JSON in the response to %s", ex->request_desc),
				 errdetail("At byte offset %d of %zu: %s",
						   (int) (ex->lex->token_start - ex->lex->input), len,
						   json_errdetail(rc, ex->lex))));
}
