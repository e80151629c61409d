/*-------------------------------------------------------------------------
 *
 * xml_records.c
 *		  XML responses: libxml2's SAX2 parser walks the same trie as JSON.
 *
 * A profile's paths read XML as they read JSON: each step is an element's
 * local name (namespace prefixes are ignored, as providers vary them),
 * "@name" is an attribute, and "[]" after an element marks every element
 * of that name as a new level (JSON's array elements).  A field names an
 * element to read its text, or an element with child elements to read its
 * markup.  An empty element is NULL, XML having no other way to say it.
 *
 * Why SAX2 rather than a document tree: a tree per page is what
 * ../shared/reference/performance-baseline.md measures as slower than the
 * network; SAX2 calls back per element with its attributes already
 * decoded, so nothing but the captured values is copied.  libxml2 rather
 * than expat: on a page of readings its SAX2 parses at about 800 MB/s,
 * expat at about 340 (test/bench/xml_parsers.c, in make bench), and
 * PostgreSQL itself links libxml2.
 *
 * Safety: a DOCTYPE is refused outright, before its internal subset is
 * read, so no entity is ever declared, expanded (billion laughs) or loaded
 * from outside (XXE); XML_PARSE_NONET forbids the network besides.
 * Callbacks never raise an error through libxml2 (short of running out of
 * memory): they record the first problem and stop, and the error is raised
 * once the parser has returned.
 * Captured values stay UTF-8 until records.c converts them, outside the
 * parse.  Only where libxml2 checks for it right away (a DOCTYPE, an end
 * tag) is the parser halted; an error it reports itself only disables
 * the callbacks, as halting frees the input it is still reading.
 *
 *-------------------------------------------------------------------------
 */
#include "records.h"

#include <limits.h>

#include "catalog/pg_collation.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

/* Record the first problem and halt: the caller raises it after the parse. */
static void
xml_stop(RecordExtractor *ex, xmlParserCtxtPtr ctxt, char *why)
{
	if (ex->xml_error == NULL)
		ex->xml_error = why;
	xmlStopParser(ctxt);
}

/* The child of node for attribute name (a step "@name"), or NULL. */
static TrieNode *
attribute_child(TrieNode *node, const xmlChar *name)
{
	int			len = strlen((const char *) name) + 1;

	for (TrieNode *c = node->child; c; c = c->sibling)
		if (c->step.kind == STEP_KEY && c->keylen == len && c->step.key[0] == '@' &&
			memcmp(c->step.key + 1, name, len - 1) == 0)
			return c;
	return NULL;
}

/* Does the element meet a step's condition: attribute "@name" with that value, or matching it? */
static bool
meets_condition(int nattrs, const xmlChar **attrs, const PathStep *step)
{
	for (int i = 0; i < nattrs; i++)
		if (strcmp((const char *) attrs[i * 5], step->pred_attr + 1) == 0)
		{
			const char *v = (const char *) attrs[i * 5 + 3];
			int			vlen = (int) (attrs[i * 5 + 4] - attrs[i * 5 + 3]);

			if (step->pred_regex)
				/* compiled and cached by PostgreSQL's regex code; checked when the profile was */
				return DatumGetBool(DirectFunctionCall2Coll(textregexeq, DEFAULT_COLLATION_OID,
															PointerGetDatum(cstring_to_text_with_len(v, vlen)),
															CStringGetTextDatum(step->pred_value)));
			return (int) strlen(step->pred_value) == vlen && memcmp(v, step->pred_value, vlen) == 0;
		}
	return false;
}

/*
 * The child of node for an element: one whose condition ("link[@rel=self]")
 * the element meets, else the one without a condition, else NULL.
 */
static TrieNode *
element_child(TrieNode *node, const xmlChar *name, int nattrs, const xmlChar **attrs)
{
	int			len = strlen((const char *) name);
	TrieNode   *plain = NULL;

	for (TrieNode *c = node->child; c; c = c->sibling)
	{
		if (c->step.kind != STEP_KEY || c->keylen != len || memcmp(c->step.key, name, len) != 0)
			continue;
		if (c->step.pred_attr == NULL)
			plain = c;
		else if (meets_condition(nattrs, attrs, &c->step))
			return c;
	}
	return plain;
}


/* An element's text, without the whitespace around it; empty is NULL. */
static void
store_text(RecordExtractor *ex, TrieNode *node, const char *s, int len)
{
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
					   s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if (len == 0)
		records_store(ex, node, VAL_NULL, NULL, 0);
	else
		records_store(ex, node, VAL_TEXT, pnstrdup(s, len), len);
}

static bool
ascii_equal_ci(const char *a, int alen, const char *b)
{
	while (alen > 0 && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r'))
		a++, alen--;
	while (alen > 0 && (a[alen - 1] == ' ' || a[alen - 1] == '\t' || a[alen - 1] == '\n' ||
						a[alen - 1] == '\r'))
		alen--;
	return (int) strlen(b) == alen && pg_strncasecmp(a, b, alen) == 0;
}

/*
 * Pagination by a link element: among the elements at the links path, the
 * one whose match attribute equals the match value (ignoring case, as
 * Portfolio Manager writes "next page" and "Next Page") gives the URL.
 */
static void
take_next_link(RecordExtractor *ex, int nattrs, const xmlChar **attrs)
{
	const ScalerPaginationSpec *pg = ex->pagination;
	const xmlChar *url = NULL;
	const xmlChar *url_end = NULL;
	bool		match = false;

	for (int i = 0; i < nattrs; i++)
	{
		const char *name = (const char *) attrs[i * 5];
		const char *value = (const char *) attrs[i * 5 + 3];
		int			vlen = (int) (attrs[i * 5 + 4] - attrs[i * 5 + 3]);

		if (strcmp(name, pg->link_match_attr + 1) == 0 &&
			ascii_equal_ci(value, vlen, pg->link_match_value))
			match = true;
		if (strcmp(name, pg->link_url_attr + 1) == 0)
		{
			url = attrs[i * 5 + 3];
			url_end = attrs[i * 5 + 4];
		}
	}
	if (match && url && url_end > url && ex->page->next_url == NULL)
		ex->page->next_url = pnstrdup((const char *) url, (int) (url_end - url));
}

static void
on_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
				 const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
				 int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
	xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr) ctx;
	RecordExtractor *ex = (RecordExtractor *) ctxt->_private;
	TrieNode   *parent = ex->depth > 0 ? ex->stack[ex->depth - 1].node : ex->root;
	TrieNode   *node = NULL;
	FrameKind	kind = FRAME_PLAIN;
	char	   *start = NULL;
	Frame	   *f;

	if (ex->xml_error)
		return;
	if (ex->depth > 0)
		ex->stack[ex->depth - 1].has_children = true;
	if (parent && parent->child)
		node = element_child(parent, localname, nb_attributes, attributes);
	if (node && node->records)
	{
		node = node->record_root;
		kind = FRAME_LEVEL;
		ex->page->saw_records = true;
	}
	else if (node)
	{
		PathStep	each = {STEP_EACH};
		TrieNode   *level = records_trie_child(node, &each, false);

		if (level)
		{
			node = level;
			kind = level->level_start > 0 ? FRAME_LEVEL : FRAME_PLAIN;
			if (kind == FRAME_LEVEL)
				ex->levels_opened++;
		}
	}
	if (kind == FRAME_LEVEL)
		records_open_level(ex, node);
	if (node && node->nslots > 0)
	{
		/* Its markup may be wanted: where its start tag ends (see on_end_element) */
		long		at = xmlByteConsumed(ctxt);

		if (at >= 0 && at <= (long) ex->body_len)
			start = ex->body + at;
	}
	records_push_frame(ex, kind, node, start);
	f = &ex->stack[ex->depth - 1];
	f->text_start = ex->text.len;
	f->has_children = false;
	if (node == NULL)
		return;
	if (node->encloses_records)
		ex->page->saw_records = true;
	if (node->holds_records)
		ex->saw_outer = true;
	if (node == ex->next_link)
		take_next_link(ex, nb_attributes, attributes);
	if (node->child)
		for (int i = 0; i < nb_attributes; i++)
		{
			TrieNode   *a = attribute_child(node, attributes[i * 5]);

			if (a && a->nslots > 0)
				store_text(ex, a, (const char *) attributes[i * 5 + 3],
						   (int) (attributes[i * 5 + 4] - attributes[i * 5 + 3]));
		}
}

static void
on_end_element(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
	xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr) ctx;
	RecordExtractor *ex = (RecordExtractor *) ctxt->_private;
	Frame	   *f;

	if (ex->xml_error)
		return;
	/* A cancel is honoured once the parser has returned. */
	if (InterruptPending)
	{
		xml_stop(ex, ctxt, pstrdup("The parse was interrupted."));
		return;
	}
	f = &ex->stack[ex->depth - 1];
	if (f->node && f->node->nslots > 0)
	{
		if (!f->has_children)
			store_text(ex, f->node, ex->text.data + f->text_start, ex->text.len - f->text_start);
		else
		{
			long		at = xmlByteConsumed(ctxt);

			if (f->start == NULL || at < 0 || at > (long) ex->body_len)
			{
				xml_stop(ex, ctxt, psprintf("The markup of element \"%s\" could not be located.",
											(const char *) localname));
				return;
			}
			/* the start tag begins at the last "<" before its end: attribute values hold none */
			while (f->start > ex->body && *f->start != '<')
				f->start--;
			records_store(ex, f->node, VAL_MARKUP, pnstrdup(f->start, (int) (ex->body + at - f->start)),
						  (int) (ex->body + at - f->start));
		}
	}
	ex->text.len = f->text_start;
	ex->text.data[ex->text.len] = '\0';
	ex->depth--;
	if (f->kind == FRAME_LEVEL)
		records_close_level(ex, f);
}

static void
on_characters(void *ctx, const xmlChar *ch, int len)
{
	xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr) ctx;
	RecordExtractor *ex = (RecordExtractor *) ctxt->_private;

	/* Only an element whose value is captured keeps its text. */
	if (ex->xml_error == NULL && ex->depth > 0 && ex->stack[ex->depth - 1].node &&
		ex->stack[ex->depth - 1].node->nslots > 0)
		appendBinaryStringInfo(&ex->text, (const char *) ch, len);
}

static void
on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr) ctx;

	xml_stop((RecordExtractor *) ctxt->_private, ctxt,
			 pstrdup("The document has a document type declaration (<!DOCTYPE>); responses with one are refused, as their entities could expand without bound or read files and URLs (XXE)."));
}

static void
on_error(void *ctx, xmlErrorPtr err)
{
	xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr) ctx;
	RecordExtractor *ex = (RecordExtractor *) ctxt->_private;
	char	   *msg;
	int			n;

	if (err == NULL || err->level == XML_ERR_WARNING || ex->xml_error)
		return;
	msg = pstrdup(err->message ? err->message : "unknown error");
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	ex->xml_error = psprintf("Line %d, column %d: %s.", err->line, err->int2, msg);
	/* not xmlStopParser: libxml2 goes on reading the input that would free */
	ctxt->disableSAX = 1;
}

static const xmlSAXHandler sax_template = {
	.internalSubset = on_doctype,
	.characters = on_characters,
	.cdataBlock = on_characters,
	.initialized = XML_SAX2_MAGIC,
	.startElementNs = on_start_element,
	.endElementNs = on_end_element,
	.serror = on_error,
};

void
records_parse_xml(RecordExtractor *ex, char *body, size_t len)
{
	xmlParserCtxtPtr ctxt;
	xmlSAXHandler *own_sax;
	xmlSAXHandler sax = sax_template;
	int			wellformed;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_XML_DOCUMENT),
				 errmsg("invalid XML in the response to %s", ex->request_desc),
				 errdetail("The response is empty.")));
	/* XML is read as UTF-8, checked first; records.c converts values to the server's. */
	if (!pg_verify_mbstr(PG_UTF8, body, (int) len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("invalid XML in the response to %s", ex->request_desc),
				 errdetail("The body is not valid UTF-8; XML responses are read as UTF-8 only, whatever their declaration says.")));

	xmlInitParser();
	ctxt = xmlCreateMemoryParserCtxt(body, (int) len);
	if (ctxt == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libxml2 could not create a parser for the response to %s.",
						   ex->request_desc)));
	/*
	 * No DTD loading (the default), no network; the body is read as the
	 * UTF-8 it was checked to be, whatever its declaration says.  NOENT
	 * only makes "&amp;" in an attribute "&" rather than "&#38;" (a URL's
	 * query needs that): with every DOCTYPE refused, no other entity can be
	 * declared to substitute.  Options first: they write to the context's
	 * own handler, which is restored before the context is freed.
	 */
	(void) xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_IGNORE_ENC | XML_PARSE_NOENT);
	own_sax = ctxt->sax;
	ctxt->sax = &sax;
	ctxt->userData = ctxt;
	ctxt->_private = ex;

	ex->body = body;
	ex->body_len = len;
	ex->xml_error = NULL;
	ex->saw_outer = false;
	ex->levels_opened = 0;
	initStringInfo(&ex->text);

	PG_TRY();
	{
		(void) xmlParseDocument(ctxt);
	}
	PG_CATCH();
	{
		ctxt->sax = own_sax;
		xmlFreeParserCtxt(ctxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	wellformed = ctxt->wellFormed;
	ctxt->sax = own_sax;
	xmlFreeParserCtxt(ctxt);
	CHECK_FOR_INTERRUPTS();

	/*
	 * Records are present, if none: an element they would be in was there,
	 * or the element enclosing the first repeated one had none of those (an
	 * empty feed).  A misspelt step below it finds neither.
	 */
	if (!ex->page->saw_records && ex->saw_outer && ex->levels_opened == 0)
		ex->page->saw_records = true;

	if (ex->xml_error || !wellformed)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_XML_DOCUMENT),
				 errmsg("invalid XML in the response to %s", ex->request_desc),
				 errdetail("%s", ex->xml_error ? ex->xml_error : "The document is not well-formed.")));
}
