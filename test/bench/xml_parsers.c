/*
 * make bench: the two XML push parsers Debian offers, side by side on one
 * page of the provider server's XML, with callbacks that do nothing but
 * count, so the figure is the parser's own cost.  It is why
 * src/xml_records.c uses libxml2's SAX2 rather than expat.
 *   usage: xml_parsers FILE   (prints shell assignments of the figures)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <expat.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

static long elements;
static long text_bytes;

static void
sax2_start(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri,
		   int nns, const xmlChar **ns, int nattrs, int ndefaulted, const xmlChar **attrs)
{
	elements++;
}

static void
sax2_end(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri)
{
}

static void
sax2_text(void *ctx, const xmlChar *s, int len)
{
	text_bytes += len;
}

static void
expat_start(void *ctx, const XML_Char *name, const XML_Char **attrs)
{
	elements++;
}

static void
expat_end(void *ctx, const XML_Char *name)
{
}

static void
expat_text(void *ctx, const XML_Char *s, int len)
{
	text_bytes += len;
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	FILE	   *f;
	long		len;
	char	   *buf;
	double		best_sax2 = 1e9,
				best_expat = 1e9;

	if (argc != 2 || (f = fopen(argv[1], "rb")) == NULL)
	{
		fprintf(stderr, "usage: xml_parsers FILE\n");
		return 2;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc(len);
	if (buf == NULL || fread(buf, 1, len, f) != (size_t) len)
		return 2;
	fclose(f);

	/* best of 20 each, interleaved: the machine is shared */
	for (int r = 0; r < 20; r++)
	{
		xmlSAXHandler sax;
		xmlParserCtxtPtr ctxt;
		xmlSAXHandler *own;
		XML_Parser p;
		double		t;

		memset(&sax, 0, sizeof(sax));
		sax.initialized = XML_SAX2_MAGIC;
		sax.startElementNs = sax2_start;
		sax.endElementNs = sax2_end;
		sax.characters = sax2_text;
		t = now();
		ctxt = xmlCreateMemoryParserCtxt(buf, (int) len);
		own = ctxt->sax;
		ctxt->sax = &sax;
		ctxt->userData = ctxt;
		xmlParseDocument(ctxt);
		ctxt->sax = own;
		xmlFreeParserCtxt(ctxt);
		t = now() - t;
		if (t < best_sax2)
			best_sax2 = t;

		t = now();
		p = XML_ParserCreateNS("UTF-8", '|');
		XML_SetElementHandler(p, expat_start, expat_end);
		XML_SetCharacterDataHandler(p, expat_text);
		XML_Parse(p, buf, (int) len, 1);
		XML_ParserFree(p);
		t = now() - t;
		if (t < best_expat)
			best_expat = t;
	}
	printf("xmlparse_bytes=%ld\nxmlparse_libxml2_ms=%.2f\nxmlparse_expat_ms=%.2f\n",
		   len, best_sax2 * 1e3, best_expat * 1e3);
	return 0;
}
