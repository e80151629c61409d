/*-------------------------------------------------------------------------
 *
 * http.c
 *		  The HTTP engine of scaler_fdw: libcurl requests with keep-alive,
 *		  authentication, timeouts, and prompt cancellation.
 *
 * Transfers run through a per-backend curl multi handle, which owns the
 * connection cache, so keep-alive connections survive from one request (and
 * one query) to the next.  The transfer loop never blocks for more than
 * POLL_INTERVAL_MS before it checks for interrupts: query cancel,
 * statement_timeout and backend termination therefore end a request within
 * that interval, even while the provider stalls in the middle of a body.
 *
 * libcurl callbacks must never ereport (a longjmp across libcurl would leave
 * it in an undefined state); they record a failure and return a value that
 * makes libcurl abort the transfer, and the caller reports it afterwards.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include <curl/curl.h>

#include "common/base64.h"
#include "common/pg_prng.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "mb/pg_wchar.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

#define POLL_INTERVAL_MS	50
#define MAX_REDIRECTS		5
#define EXCERPT_BYTES		300
#define EASY_POOL_SIZE		16
#define RETRY_BASE_MS		250

static CURLM *scaler_multi = NULL;
static CURL *easy_pool[EASY_POOL_SIZE];
static int	easy_pool_len = 0;

static CURLM *
get_multi(void)
{
	if (scaler_multi == NULL)
	{
		scaler_multi = curl_multi_init();
		if (scaler_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not initialize libcurl")));
	}
	return scaler_multi;
}

static CURL *
easy_acquire(void)
{
	CURL	   *easy;

	if (easy_pool_len > 0)
	{
		easy = easy_pool[--easy_pool_len];
		curl_easy_reset(easy);
		return easy;
	}
	easy = curl_easy_init();
	if (easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not initialize a libcurl handle")));
	return easy;
}

static void
easy_release(CURL *easy)
{
	if (easy_pool_len < EASY_POOL_SIZE)
		easy_pool[easy_pool_len++] = easy;
	else
		curl_easy_cleanup(easy);
}

/* ---------- buffers filled from libcurl callbacks ---------- */

static void
buffer_init(ScalerBuffer *buf, MemoryContext cxt, size_t max)
{
	memset(buf, 0, sizeof(*buf));
	buf->cxt = cxt;
	buf->max = max;
}

static void
buffer_reset(ScalerBuffer *buf)
{
	buf->len = 0;
	buf->overflow = false;
	if (buf->data)
		buf->data[0] = '\0';
}

/* Append without ever raising an ERROR: false means out of room or memory. */
static bool
buffer_append(ScalerBuffer *buf, const char *data, size_t n)
{
	if (buf->len + n + 1 > buf->cap)
	{
		size_t		newcap = Max(buf->cap * 2, (size_t) 8192);
		char	   *newdata;

		while (newcap < buf->len + n + 1)
			newcap *= 2;
		if (buf->len + n > buf->max)
		{
			buf->overflow = true;
			return false;
		}
		newcap = Min(newcap, buf->max + 1);
		newdata = MemoryContextAllocExtended(buf->cxt, newcap,
											 MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (newdata == NULL)
			return false;
		if (buf->len > 0)
			memcpy(newdata, buf->data, buf->len);
		if (buf->data)
			pfree(buf->data);
		buf->data = newdata;
		buf->cap = newcap;
	}
	memcpy(buf->data + buf->len, data, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return true;
}

static size_t
write_body_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	size_t		n = size * nmemb;

	return buffer_append((ScalerBuffer *) userdata, ptr, n) ? n : 0;
}

static size_t
write_header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	ScalerBuffer *buf = (ScalerBuffer *) userdata;
	size_t		n = size * nmemb;

	/* A new status line starts a new response (after a redirect or 100). */
	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
		buffer_reset(buf);
	return buffer_append(buf, ptr, n) ? n : 0;
}

void
scaler_http_init_response(ScalerHttpResponse *resp, MemoryContext cxt,
						  int64 max_body)
{
	resp->status = 0;
	resp->method = "GET";
	buffer_init(&resp->body, cxt, (size_t) max_body);
	buffer_init(&resp->headers, cxt, 256 * 1024);
}

/* ---------- URLs and messages ---------- */

/*
 * True if url is an absolute http or https URL.  *scheme_out, if given,
 * receives the scheme of a parseable URL so callers can name it.
 */
bool
scaler_url_is_http(const char *url, char **scheme_out)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		ok = false;

	if (scheme_out)
		*scheme_out = NULL;
	if (u == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK)
	{
		if (scheme_out)
			*scheme_out = pstrdup(scheme);
		ok = (pg_strcasecmp(scheme, "http") == 0 || pg_strcasecmp(scheme, "https") == 0) &&
			curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
			host[0] != '\0';
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/*
 * An endpoint is appended to base_url as text, not resolved as a relative
 * reference: a base URL ending in a path ("https://h/api/v2") keeps it.
 */
char *
scaler_join_url(const char *base_url, const char *endpoint)
{
	size_t		blen = strlen(base_url);

	if (strstr(endpoint, "://") != NULL)
		return pstrdup(endpoint);
	while (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	while (*endpoint == '/')
		endpoint++;
	return psprintf("%.*s/%s", (int) blen, base_url, endpoint);
}

static void
replace_all(StringInfo out, const char *text, const char *secret)
{
	size_t		slen = strlen(secret);
	const char *p = text;
	const char *hit;

	while ((hit = strstr(p, secret)) != NULL)
	{
		appendBinaryStringInfo(out, p, hit - p);
		appendStringInfoString(out, "***");
		p = hit + slen;
	}
	appendStringInfoString(out, p);
}

/* Replace every credential of the user mapping, raw or URL-encoded, by ***. */
char *
scaler_redact(const ScalerServerOptions *srv, const char *text)
{
	const char *secrets[8];
	int			nsecrets = 0;
	char	   *result = pstrdup(text);
	const char *token = scaler_auth_cached_token(srv);

	if (srv->password && srv->password[0])
		secrets[nsecrets++] = srv->password;
	if (srv->token)
		secrets[nsecrets++] = srv->token;
	if (srv->api_key)
		secrets[nsecrets++] = srv->api_key;
	if (srv->auth == SCALER_AUTH_BASIC && srv->username && srv->username == srv->api_key)
		secrets[nsecrets++] = srv->username;
	if (srv->client_secret)
		secrets[nsecrets++] = srv->client_secret;
	if (token)
		secrets[nsecrets++] = token;
	/* Basic credentials as they travel, should a provider echo its Authorization header */
	if (srv->auth == SCALER_AUTH_BASIC && srv->username)
	{
		char	   *pair = psprintf("%s:%s", srv->username, srv->password ? srv->password : "");
		int			len = pg_b64_enc_len(strlen(pair));
		char	   *b64 = palloc0(len + 1);

		if (pg_b64_encode(pair, strlen(pair), b64, len) > 0)
			secrets[nsecrets++] = b64;
	}

	for (int i = 0; i < nsecrets; i++)
	{
		char	   *encoded = curl_easy_escape(NULL, secrets[i], 0);
		char	   *lower_hex = NULL;

		/* percent-encoding's hex digits may come back in either case */
		if (encoded && strchr(encoded, '%'))
		{
			lower_hex = pstrdup(encoded);
			for (char *c = lower_hex; *c; c++)
				if (*c == '%' && c[1] && c[2])
				{
					c[1] = pg_tolower((unsigned char) c[1]);
					c[2] = pg_tolower((unsigned char) c[2]);
					c += 2;
				}
		}

		for (int form = 0; form < 3; form++)
		{
			const char *s = form == 0 ? secrets[i] : form == 1 ? encoded : lower_hex;
			StringInfoData buf;

			if (s == NULL || s[0] == '\0' || strstr(result, s) == NULL)
				continue;
			initStringInfo(&buf);
			replace_all(&buf, result, s);
			pfree(result);
			result = buf.data;
		}
		curl_free(encoded);
	}
	return result;
}

/*
 * How a URL is shown in messages and EXPLAIN: relative to the server's
 * base_url when it lies below it, and never with a credential in it.
 */
char *
scaler_display_url(const ScalerServerOptions *srv, const char *url)
{
	size_t		blen = strlen(srv->base_url);

	while (blen > 0 && srv->base_url[blen - 1] == '/')
		blen--;
	if (strncmp(url, srv->base_url, blen) == 0 &&
		(url[blen] == '/' || url[blen] == '?' || url[blen] == '\0'))
		url = url[blen] == '/' ? url + blen : psprintf("/%s", url + blen);
	return scaler_redact(srv, url);
}

/* The start of a response body, printable, valid in the server encoding. */
char *
scaler_body_excerpt(const ScalerServerOptions *srv, const char *body, size_t len)
{
	size_t		n;
	char	   *copy;
	char	   *result;

	if (body == NULL || len == 0)
		return pstrdup("");
	/* Redact first, then cut: a secret across the cut must not leave its start. */
	copy = scaler_redact(srv, pnstrdup(body, Min(len, (size_t) EXCERPT_BYTES * 8)));
	len = strlen(copy);
	n = Min(len, (size_t) EXCERPT_BYTES);
	copy[n] = '\0';
	for (char *p = copy; *p; p++)
		if ((unsigned char) *p < 0x20)
			*p = ' ';
	/* Don't cut a multibyte character in half, nor pass on invalid bytes. */
	n = pg_mbcliplen(copy, strlen(copy), strlen(copy));
	copy[n] = '\0';
	if (!pg_verifymbstr(copy, n, true))
		return pstrdup("(response body is not valid text)");
	result = copy;
	if (len > (size_t) EXCERPT_BYTES)
		result = psprintf("%s...", result);
	return result;
}

/* The value of the first header called name in the final response, or NULL. */
char *
scaler_http_header(const ScalerHttpResponse *resp, const char *name)
{
	size_t		nlen = strlen(name);
	const char *p = resp->headers.data;

	while (p && *p)
	{
		const char *eol = strstr(p, "\r\n");
		size_t		linelen = eol ? (size_t) (eol - p) : strlen(p);

		if (linelen > nlen && p[nlen] == ':' && pg_strncasecmp(p, name, nlen) == 0)
		{
			const char *v = p + nlen + 1;
			const char *end = p + linelen;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return pnstrdup(v, end - v);
		}
		if (!eol)
			break;
		p = eol + 2;
	}
	return NULL;
}

/* True if a Link parameter list (lower-cased) has rel="next" among its relation types. */
static bool
link_params_say_next(const char *params)
{
	const char *rel = strstr(params, "rel=");
	const char *v;
	size_t		vlen;

	if (rel == NULL)
		return false;
	v = rel + 4;
	if (*v == '"')
	{
		v++;
		vlen = strcspn(v, "\"");
	}
	else
		vlen = strcspn(v, "; ");
	/* rel may list several space-separated relation types */
	while (vlen > 0)
	{
		size_t		tlen = strcspn(v, " \"");

		tlen = Min(tlen, vlen);
		if (tlen == 4 && strncmp(v, "next", 4) == 0)
			return true;
		while (tlen < vlen && v[tlen] == ' ')
			tlen++;
		v += tlen;
		vlen -= tlen;
	}
	return false;
}

/*
 * The target of rel="next" in an RFC 8288 Link header, as written (the
 * caller resolves it against the request URL), or NULL on the last page.
 */
char *
scaler_link_next(const ScalerHttpResponse *resp)
{
	char	   *link = scaler_http_header(resp, "Link");
	char	   *p = link;

	while (p && *p)
	{
		char	   *lt = strchr(p, '<');
		char	   *gt = lt ? strchr(lt, '>') : NULL;
		char	   *comma;
		char	   *params;

		if (gt == NULL)
			break;
		/* A link-value's parameters run to the next comma after its <URI>. */
		comma = strchr(gt, ',');
		params = comma ? pnstrdup(gt + 1, comma - gt - 1) : pstrdup(gt + 1);
		for (char *s = params; *s; s++)
			*s = pg_tolower((unsigned char) *s);
		if (link_params_say_next(params))
			return pnstrdup(lt + 1, gt - lt - 1);
		p = comma ? comma + 1 : NULL;
	}
	return NULL;
}

/* url with name=value query parameters appended, URL-encoded. */
char *
scaler_url_with_params(const ScalerServerOptions *srv, const char *url,
					   List *names, List *values)
{
	CURLU	   *u;
	char	   *full = NULL;
	char	   *result;
	ListCell   *a,
			   *b;
	bool		ok;

	if (names == NIL)
		return pstrdup(url);
	u = curl_url();
	ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK;
	forboth(a, names, b, values)
	{
		if (!ok)
			break;
		ok = curl_url_set(u, CURLUPART_QUERY,
						  psprintf("%s=%s", (char *) lfirst(a), (char *) lfirst(b)),
						  CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK;
	}
	ok = ok && curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK;
	curl_url_cleanup(u);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("could not build a request URL from %s", scaler_display_url(srv, url))));
	result = pstrdup(full);
	curl_free(full);
	return result;
}

/* ---------- where requests may go ---------- */

typedef struct UrlOrigin
{
	char	   *scheme;
	char	   *host;
	char	   *port;
} UrlOrigin;

/* Scheme, host and port (defaulted) of an absolute URL; false if it has none. */
static bool
url_origin(const char *url, UrlOrigin *o)
{
	CURLU	   *u = curl_url();
	char	   *parts[3] = {NULL, NULL, NULL};
	const CURLUPart ids[3] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
	bool		ok;

	if (u == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	ok = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK;
	for (int i = 0; ok && i < 3; i++)
		ok = curl_url_get(u, ids[i], &parts[i], CURLU_DEFAULT_PORT) == CURLUE_OK;
	if (ok)
	{
		o->scheme = pstrdup(parts[0]);
		o->host = pstrdup(parts[1]);
		o->port = pstrdup(parts[2]);
		for (char *c = o->scheme; *c; c++)
			*c = pg_tolower((unsigned char) *c);
		for (char *c = o->host; *c; c++)
			*c = pg_tolower((unsigned char) *c);
	}
	for (int i = 0; i < 3; i++)
		curl_free(parts[i]);
	curl_url_cleanup(u);
	return ok;
}

static bool
same_origin(const UrlOrigin *a, const UrlOrigin *b)
{
	return strcmp(a->scheme, b->scheme) == 0 && strcmp(a->host, b->host) == 0 &&
		strcmp(a->port, b->port) == 0;
}

/* Is host matched by scaler_fdw.allowed_hosts ("" allows every host)? */
static bool
host_allowed(const char *host)
{
	char	   *list;
	List	   *patterns;
	ListCell   *lc;
	bool		allowed = false;

	if (scaler_allowed_hosts == NULL || scaler_allowed_hosts[0] == '\0')
		return true;
	list = pstrdup(scaler_allowed_hosts);
	if (!SplitGUCList(list, ',', &patterns))
		return false;			/* the GUC's check hook keeps this from happening */
	foreach(lc, patterns)
	{
		const char *pat = (const char *) lfirst(lc);
		size_t		hlen = strlen(host);

		if (strcmp(pat, "*") == 0 || pg_strcasecmp(pat, host) == 0)
			allowed = true;
		else if (strncmp(pat, "*.", 2) == 0 && hlen > strlen(pat + 1) &&
				 pg_strcasecmp(host + hlen - strlen(pat + 1), pat + 1) == 0)
			allowed = true;
	}
	return allowed;
}

/* At CREATE/ALTER time: a URL whose host scaler_fdw.allowed_hosts excludes is an ERROR. */
void
scaler_check_url_allowed(const char *url)
{
	UrlOrigin	o;

	if (url_origin(url, &o) && !host_allowed(o.host))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("host \"%s\" is not in scaler_fdw.allowed_hosts", o.host),
				 errhint("A superuser can allow it: ALTER SYSTEM SET scaler_fdw.allowed_hosts = '...'; SELECT pg_reload_conf();")));
}

/* Every URL a request is about to use, first or redirected, passes here. */
static void
check_request_url(const ScalerServerOptions *srv, const char *url, UrlOrigin *origin)
{
	if (!url_origin(url, origin) ||
		(strcmp(origin->scheme, "http") != 0 && strcmp(origin->scheme, "https") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("refused a request of server \"%s\" to a URL that is not http or https",
						srv->servername),
				 errdetail("The URL was \"%s\".", scaler_display_url(srv, url))));
	if (!host_allowed(origin->host))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("host \"%s\" is not in scaler_fdw.allowed_hosts", origin->host),
				 errdetail("Server \"%s\" tried to reach %s.", srv->servername,
						   scaler_display_url(srv, url)),
				 errhint("A superuser can allow it: ALTER SYSTEM SET scaler_fdw.allowed_hosts = '...'; SELECT pg_reload_conf();")));
}

/* ---------- requests ---------- */

static void
set_opt_checked(CURLcode rc, const char *what)
{
	if (rc != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not set libcurl option %s: %s", what,
						curl_easy_strerror(rc))));
}

#define SETOPT(easy, opt, val) set_opt_checked(curl_easy_setopt((easy), (opt), (val)), #opt)

/* Does the URL's query string have a parameter called name? */
static bool
query_has_param(CURLU *u, const char *name)
{
	char	   *query = NULL;
	bool		found = false;
	size_t		nlen = strlen(name);

	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK && query)
	{
		for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
			if (strncmp(p, name, nlen) == 0 && (p[nlen] == '=' || p[nlen] == '&' || p[nlen] == '\0'))
				found = true;
	}
	curl_free(query);
	return found;
}

/* The URL actually requested: the API key added as a query parameter if so configured. */
static pg_noinline char *
request_url(const ScalerServerOptions *srv, const char *url)
{
	CURLU	   *u;
	char	   *full = NULL;
	char	   *result;
	char	   *param;

	if (srv->auth != SCALER_AUTH_API_KEY || !srv->api_key_in_query)
		return pstrdup(url);

	u = curl_url();
	param = psprintf("%s=%s", srv->api_key_name, srv->api_key);
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
	{
		curl_url_cleanup(u);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not parse URL %s", scaler_display_url(srv, url))));
	}
	/* Next-page URLs often carry the key already: don't send it twice. */
	if (query_has_param(u, srv->api_key_name))
	{
		curl_url_cleanup(u);
		return pstrdup(url);
	}
	if (curl_url_set(u, CURLUPART_QUERY, param, CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
	{
		curl_url_cleanup(u);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not add the API key to URL %s",
						scaler_display_url(srv, url))));
	}
	result = pstrdup(full);
	curl_free(full);
	curl_url_cleanup(u);
	return result;
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *line)
{
	struct curl_slist *l;

	/* A value from a template or a provider's token must not add headers of its own. */
	if (strpbrk(line, "\r\n") != NULL)
	{
		curl_slist_free_all(list);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("refused a request header with a line break in it")));
	}
	l = curl_slist_append(list, line);

	if (l == NULL)
	{
		curl_slist_free_all(list);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	return l;
}

/* Headers of a request; the token of OAuth2 and login auth is fetched first if needed. */
static struct curl_slist *
request_headers(const ScalerServerOptions *srv, const ScalerRequest *req, bool credentials)
{
	char	   *auth_line = NULL;
	struct curl_slist *headers;
	ListCell   *a,
			   *b;

	if (credentials && req->api_auth)
	{
		if (srv->auth == SCALER_AUTH_BEARER)
			auth_line = psprintf("Authorization: Bearer %s", srv->token);
		else if (srv->auth == SCALER_AUTH_API_KEY && !srv->api_key_in_query)
			auth_line = psprintf("%s: %s", srv->api_key_name, srv->api_key);
		else if (srv->auth == SCALER_AUTH_OAUTH2 || srv->auth == SCALER_AUTH_LOGIN)
			auth_line = scaler_auth_header(srv);
	}
	headers = add_header(NULL, "Accept: application/json");
	if (req->content_type)
		headers = add_header(headers, psprintf("Content-Type: %s", req->content_type));
	if (auth_line)
		headers = add_header(headers, auth_line);
	forboth(a, req->header_names, b, req->header_values)
		headers = add_header(headers, psprintf("%s: %s", (char *) lfirst(a), (char *) lfirst(b)));
	/* The profile's static headers (API versions, application ids) */
	if (req->api_auth && srv->profile)
		forboth(a, srv->profile->header_names, b, srv->profile->header_values)
			headers = add_header(headers, psprintf("%s: %s", (char *) lfirst(a), (char *) lfirst(b)));
	return headers;
}

/*
 * Redirects are not followed by libcurl but by scaler_http_get, so that every
 * target passes the same checks as the first URL.
 */
static void
configure_easy(CURL *easy, const ScalerServerOptions *srv, const ScalerRequest *req,
			   const char *url, bool credentials, ScalerHttpResponse *resp,
			   struct curl_slist *headers, char *errbuf)
{
	SETOPT(easy, CURLOPT_URL, url);
	SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
	SETOPT(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(easy, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) srv->connect_timeout_ms);
	SETOPT(easy, CURLOPT_TIMEOUT_MS, (long) srv->request_timeout_ms);
	SETOPT(easy, CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(easy, CURLOPT_USERAGENT, "scaler_fdw/" SCALER_FDW_VERSION);
	SETOPT(easy, CURLOPT_WRITEFUNCTION, write_body_cb);
	SETOPT(easy, CURLOPT_WRITEDATA, &resp->body);
	SETOPT(easy, CURLOPT_HEADERFUNCTION, write_header_cb);
	SETOPT(easy, CURLOPT_HEADERDATA, &resp->headers);
	SETOPT(easy, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(easy, CURLOPT_SSL_VERIFYPEER, srv->ssl_verify ? 1L : 0L);
	SETOPT(easy, CURLOPT_SSL_VERIFYHOST, srv->ssl_verify ? 2L : 0L);
	if (srv->ca_file)
		SETOPT(easy, CURLOPT_CAINFO, srv->ca_file);
	if (credentials && req->api_auth && srv->auth == SCALER_AUTH_BASIC)
	{
		SETOPT(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		SETOPT(easy, CURLOPT_USERNAME, srv->username);
		SETOPT(easy, CURLOPT_PASSWORD, srv->password);
	}
	else if (credentials && req->basic_user)
	{
		SETOPT(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		SETOPT(easy, CURLOPT_USERNAME, req->basic_user);
		SETOPT(easy, CURLOPT_PASSWORD, req->basic_password ? req->basic_password : "");
	}
	if (req->body)
	{
		SETOPT(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(req->body));
		SETOPT(easy, CURLOPT_COPYPOSTFIELDS, req->body);
	}
	if (strcmp(req->method, req->body ? "POST" : "GET") != 0)
		SETOPT(easy, CURLOPT_CUSTOMREQUEST, req->method);
	SETOPT(easy, CURLOPT_HTTPHEADER, headers);
}

/*
 * Drive the multi handle until every one of these transfers (already added
 * to it) is done, checking for interrupts while it waits.
 */
static void
run_transfers(CURL **easies, CURLcode *results, int n)
{
	CURLM	   *multi = get_multi();
	bool	   *done = palloc0(sizeof(bool) * n);
	int			remaining = n;

	while (remaining > 0)
	{
		int			running;
		CURLMsg    *msg;
		int			queued;
		CURLMcode	mc;

		CHECK_FOR_INTERRUPTS();
		if (!PostmasterIsAlive())
			proc_exit(1);
		mc = curl_multi_perform(multi, &running);
		if (mc != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("HTTP transfer failed: %s", curl_multi_strerror(mc))));
		while ((msg = curl_multi_info_read(multi, &queued)) != NULL)
		{
			if (msg->msg != CURLMSG_DONE)
				continue;
			for (int i = 0; i < n; i++)
				if (easies[i] == msg->easy_handle && !done[i])
				{
					done[i] = true;
					results[i] = msg->data.result;
					remaining--;
				}
		}
		if (remaining == 0)
			break;
		/* Returns at once when a socket is ready; the bound keeps cancel prompt. */
		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		mc = curl_multi_poll(multi, NULL, 0, POLL_INTERVAL_MS, NULL);
		pgstat_report_wait_end();
		if (mc != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("HTTP transfer failed: %s", curl_multi_strerror(mc))));
	}
}

static void
add_transfer(CURL *easy)
{
	CURLMcode	mc = curl_multi_add_handle(get_multi(), easy);

	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start HTTP request: %s", curl_multi_strerror(mc))));
}

/* Run one transfer to completion. */
static CURLcode
perform_interruptible(CURL *easy)
{
	CURLcode	result = CURLE_OK;

	add_transfer(easy);
	PG_TRY();
	{
		run_transfers(&easy, &result, 1);
	}
	PG_FINALLY();
	{
		curl_multi_remove_handle(get_multi(), easy);
	}
	PG_END_TRY();
	return result;
}

/* One HTTP exchange, no redirects followed: fills resp, returns libcurl's result. */
static CURLcode
exchange(CURL *easy, const ScalerServerOptions *srv, const ScalerRequest *req,
		 const char *url, bool credentials, ScalerHttpResponse *resp, char *errbuf,
		 ScalerHttpStats *stats)
{
	struct curl_slist *volatile headers = request_headers(srv, req, credentials);
	char	   *full_url = credentials && req->api_auth ? request_url(srv, url) : pstrdup(url);
	volatile CURLcode rc = CURLE_OK;
	instr_time	start,
				duration;

	buffer_reset(&resp->body);
	buffer_reset(&resp->headers);
	resp->status = 0;
	errbuf[0] = '\0';
	curl_easy_reset(easy);

	INSTR_TIME_SET_CURRENT(start);
	PG_TRY();
	{
		configure_easy(easy, srv, req, full_url, credentials, resp, headers, errbuf);
		rc = perform_interruptible(easy);
		if (rc == CURLE_OK)
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->status);
	}
	PG_FINALLY();
	{
		/* The handle forgets the list before the list is freed. */
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(headers);
	}
	PG_END_TRY();
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);

	if (stats)
	{
		stats->requests++;
		stats->bytes += resp->body.len;
		stats->elapsed_ms += INSTR_TIME_GET_MILLISEC(duration);
	}
	return rc;
}

static const char *
attempts_suffix(int attempts)
{
	return attempts > 1 ? psprintf(" after %d attempts", attempts) : "";
}

/* Did the transfer get a connection?  (To tell a connect timeout from a slow answer.) */
static bool
transfer_connected(CURL *easy)
{
	curl_off_t	connect_us = 0;
	long		new_connections = 0;

	/* A reused keep-alive connection reports no connect time of its own. */
	curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &new_connections);
	return connect_us > 0 || new_connections == 0;
}

static void
report_transfer_error(const ScalerServerOptions *srv, const char *url,
					  bool connected, CURLcode rc, const char *errbuf,
					  const ScalerHttpResponse *resp, int attempts)
{
	char	   *shown = scaler_display_url(srv, url);
	char	   *detail = scaler_redact(srv, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	const char *after = attempts_suffix(attempts);

	switch (rc)
	{
		case CURLE_WRITE_ERROR:
			if (resp->body.overflow)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("response to %s %s from server \"%s\" is larger than max_response_size (%zu bytes)",
								resp->method, shown, srv->servername, resp->body.max),
						 errhint("Raise the server option \"max_response_size\", or ask for smaller pages.")));
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while receiving %s %s from server \"%s\"",
							resp->method, shown, srv->servername)));
			break;
		case CURLE_OPERATION_TIMEDOUT:
			if (!connected)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
						 errmsg("could not connect to server \"%s\" within connect_timeout (%d ms) for %s %s%s",
								srv->servername, srv->connect_timeout_ms, resp->method, shown, after),
						 errdetail("%s", detail)));
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("%s %s on server \"%s\" did not complete within request_timeout (%d ms)%s",
							resp->method, shown, srv->servername, srv->request_timeout_ms, after),
					 errdetail("%s", detail),
					 errhint("Raise the server option \"request_timeout\" if the provider is slow but working.")));
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CONNECT_ERROR:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("TLS handshake with server \"%s\" failed for %s %s",
							srv->servername, resp->method, shown),
					 errdetail("%s", detail),
					 errhint("If the provider uses a private CA, set the server option \"ca_file\".")));
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not connect to server \"%s\" for %s %s%s",
							srv->servername, resp->method, shown, after),
					 errdetail("%s", detail)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("%s %s on server \"%s\" failed%s: %s",
							resp->method, shown, srv->servername, after, curl_easy_strerror(rc)),
					 errdetail("%s", detail)));
	}
}

/* ---------- retries ---------- */

/* Failures that a later attempt can cure. */
static bool
transport_retryable(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return true;
		default:
			return false;
	}
}

static bool
status_retryable(long status)
{
	return status == 408 || status == 425 || status == 429 ||
		status == 500 || status == 502 || status == 503 || status == 504;
}

/* Retry-After as milliseconds from now (seconds or an HTTP date), or -1. */
static long
retry_after_ms(const ScalerHttpResponse *resp)
{
	char	   *v = scaler_http_header(resp, "Retry-After");
	char	   *end;
	long		secs;
	time_t		when;

	if (v == NULL || v[0] == '\0')
		return -1;
	errno = 0;
	secs = strtol(v, &end, 10);
	if (errno == 0 && *end == '\0' && secs >= 0)
		return Min(secs, (long) INT_MAX / 1000) * 1000;
	when = curl_getdate(v, NULL);
	if (when == -1)
		return -1;
	return Max((long) (when - time(NULL)), 0L) * 1000;
}

/*
 * The rate-limit headers a server sent last, per backend: the readiness
 * report says what a provider announces.  A few servers' worth, by oid.
 */
#define REMEMBERED_RATE_SERVERS 16
static struct
{
	Oid			serverid;
	char		headers[512];
}			remembered_rates[REMEMBERED_RATE_SERVERS];

static void
remember_rate_headers(const ScalerServerOptions *srv, const ScalerHttpResponse *resp)
{
	StringInfoData seen;
	const char *p = resp->headers.data;
	int			slot = -1;

	initStringInfo(&seen);
	while (p && *p)
	{
		const char *eol = strstr(p, "\r\n");
		size_t		linelen = eol ? (size_t) (eol - p) : strlen(p);

		if (pg_strncasecmp(p, "X-RateLimit-", 12) == 0 || pg_strncasecmp(p, "RateLimit", 9) == 0 ||
			pg_strncasecmp(p, "Retry-After:", 12) == 0)
			appendStringInfo(&seen, "%s%.*s", seen.len ? "; " : "", (int) linelen, p);
		if (!eol)
			break;
		p = eol + 2;
	}
	if (seen.len == 0)
		return;
	for (int i = 0; i < REMEMBERED_RATE_SERVERS && slot < 0; i++)
		if (remembered_rates[i].serverid == srv->serverid || remembered_rates[i].serverid == InvalidOid)
			slot = i;
	if (slot < 0)
		slot = srv->serverid % REMEMBERED_RATE_SERVERS;
	remembered_rates[slot].serverid = srv->serverid;
	strlcpy(remembered_rates[slot].headers, seen.data, sizeof(remembered_rates[slot].headers));
}

PG_FUNCTION_INFO_V1(scaler_observed_rate_limits);

/* scaler.observed_rate_limits(server): those headers, or NULL. */
Datum
scaler_observed_rate_limits(PG_FUNCTION_ARGS)
{
	ForeignServer *server = GetForeignServerByName(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);

	for (int i = 0; i < REMEMBERED_RATE_SERVERS; i++)
		if (remembered_rates[i].serverid == server->serverid)
			PG_RETURN_TEXT_P(cstring_to_text(remembered_rates[i].headers));
	PG_RETURN_NULL();
}

/*
 * X-RateLimit-Remaining: 0 (or RateLimit-Remaining) with a reset time: pause
 * the server's budget until then, so no backend spends a request on a 429.
 */
static void
observe_rate_headers(const ScalerServerOptions *srv, const ScalerHttpResponse *resp)
{
	const char *const prefixes[] = {"X-RateLimit-", "RateLimit-"};

	remember_rate_headers(srv, resp);

	for (int i = 0; i < 2; i++)
	{
		char	   *remaining = scaler_http_header(resp, psprintf("%sRemaining", prefixes[i]));
		char	   *reset = scaler_http_header(resp, psprintf("%sReset", prefixes[i]));
		double		r;

		if (remaining == NULL || reset == NULL || strtod(remaining, NULL) > 0)
			continue;
		r = strtod(reset, NULL);
		if (r <= 0)
			continue;
		/* Large values are epoch seconds, small ones seconds from now. */
		if (r > 1e9)
			r -= (double) time(NULL);
		if (r > 0)
			scaler_rate_pause(srv, TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															   (int64) (r * 1000.0)));
		return;
	}
}

/* Exponential backoff with full jitter, capped by max_retry_wait. */
static long
backoff_ms(const ScalerServerOptions *srv, int attempt)
{
	int64		ceiling = (int64) RETRY_BASE_MS << Min(attempt - 1, 20);

	ceiling = Min(ceiling, (int64) srv->max_retry_wait_ms);
	return (long) pg_prng_uint64_range(&pg_global_prng_state, 0, (uint64) ceiling);
}

static bool
is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/*
 * Wait before the next attempt: as long as the provider asked (Retry-After;
 * every backend of the server pauses), or an exponential backoff with full
 * jitter.  A request to wait longer than max_retry_wait is an ERROR.
 */
static void
wait_before_retry(const ScalerServerOptions *srv, const char *method, const char *url,
				  CURLcode rc, const ScalerHttpResponse *resp, int attempts,
				  ScalerHttpStats *stats)
{
	long		wait_ms = rc == CURLE_OK ? retry_after_ms(resp) : -1;
	instr_time	wait_start,
				waited;

	if (wait_ms > srv->max_retry_wait_ms)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("server \"%s\" answered HTTP %ld to %s %s and asked to retry after %ld s, longer than max_retry_wait (%d ms)",
						srv->servername, resp->status, method, scaler_display_url(srv, url),
						(wait_ms + 999) / 1000, srv->max_retry_wait_ms),
				 errhint("Try again later, or raise the server option \"max_retry_wait\".")));
	INSTR_TIME_SET_CURRENT(wait_start);
	if (wait_ms >= 0)
		scaler_rate_pause(srv, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms));
	else
		scaler_sleep_ms(backoff_ms(srv, attempts));
	INSTR_TIME_SET_CURRENT(waited);
	INSTR_TIME_SUBTRACT(waited, wait_start);
	if (stats)
	{
		stats->retries++;
		stats->wait_ms += INSTR_TIME_GET_MILLISEC(waited);
	}
}

/* GET url with the server's API authentication: see scaler_http_request. */
void
scaler_http_get(const ScalerServerOptions *srv, const char *url,
				ScalerHttpResponse *resp, ScalerHttpStats *stats)
{
	ScalerRequest req;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.api_auth = true;
	scaler_http_request(srv, &req, resp, stats);
}

/*
 * Send a request with the server's limits, rate budget, retries and
 * redirect rules, and its API authentication if req->api_auth.  On return
 * resp->status holds the final HTTP status and resp->body its body; a
 * transport failure after the last retry is an ERROR.  HTTP error statuses
 * are left to scaler_http_report_status.
 */
void
scaler_http_request(const ScalerServerOptions *srv, const ScalerRequest *request,
					ScalerHttpResponse *resp, ScalerHttpStats *stats)
{
	CURL	   *volatile easy = easy_acquire();
	char		errbuf[CURL_ERROR_SIZE];

	PG_TRY();
	{
		UrlOrigin	first;
		UrlOrigin	origin;
		ScalerRequest req = *request;
		const char *url = req.url;
		char	   *cur = pstrdup(url);
		bool		credentials = true;
		bool		token_refreshed = false;
		int			attempts = 1 + req.prior_attempts;
		int			redirects = 0;

		check_request_url(srv, cur, &first);
		origin = first;

		/*
		 * The user mapping's credentials go to the origin of the server's
		 * base_url only: a table's absolute endpoint, chosen by whoever may
		 * create tables, must not receive them.  (A token endpoint's client
		 * credentials, named by the profile, go to that endpoint.)
		 */
		{
			UrlOrigin	base;

			if (!url_origin(srv->base_url, &base) || !same_origin(&first, &base))
				req.api_auth = false;
		}
		for (;;)
		{
			CURLcode	rc;
			instr_time	wait_start,
						waited;

			INSTR_TIME_SET_CURRENT(wait_start);
			scaler_rate_acquire(srv);
			INSTR_TIME_SET_CURRENT(waited);
			INSTR_TIME_SUBTRACT(waited, wait_start);
			if (stats)
				stats->wait_ms += INSTR_TIME_GET_MILLISEC(waited);

			resp->method = req.method;
			rc = exchange(easy, srv, &req, cur, credentials, resp, errbuf, stats);
			if (rc == CURLE_OK)
			{
				char	   *target = NULL;

				/* An expired or revoked token: fetch a new one, once. */
				if (resp->status == 401 && req.api_auth && credentials && !token_refreshed &&
					(srv->auth == SCALER_AUTH_OAUTH2 || srv->auth == SCALER_AUTH_LOGIN))
				{
					scaler_auth_invalidate(srv);
					token_refreshed = true;
					continue;
				}

				observe_rate_headers(srv, resp);
				if (is_redirect(resp->status))
					curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &target);
				if (target != NULL)
				{
					UrlOrigin	next;

					if (++redirects > MAX_REDIRECTS)
						ereport(ERROR,
								(errcode(ERRCODE_FDW_ERROR),
								 errmsg("%s %s on server \"%s\" was redirected more than %d times",
										req.method, scaler_display_url(srv, url), srv->servername, MAX_REDIRECTS)));
					target = pstrdup(target);
					check_request_url(srv, target, &next);
					if (strcmp(origin.scheme, "https") == 0 && strcmp(next.scheme, "http") == 0)
						ereport(ERROR,
								(errcode(ERRCODE_FDW_ERROR),
								 errmsg("refused a redirect from https to http for %s %s on server \"%s\"",
										req.method, scaler_display_url(srv, cur), srv->servername),
								 errdetail("The redirect pointed to \"%s\".", scaler_display_url(srv, target))));
					/* Credentials go only to the origin they were configured for. */
					if (!same_origin(&first, &next) && req.body &&
						(resp->status == 307 || resp->status == 308))
						ereport(ERROR,
								(errcode(ERRCODE_FDW_ERROR),
								 errmsg("refused to send the body of %s %s on server \"%s\" to another origin",
										req.method, scaler_display_url(srv, cur), srv->servername),
								 errdetail("The provider redirected to \"%s\".", scaler_display_url(srv, target))));
					credentials = credentials && same_origin(&first, &next);
					/* 301, 302 and 303 turn a POST into a GET, as browsers do. */
					if (req.body && resp->status != 307 && resp->status != 308)
					{
						req.body = NULL;
						req.content_type = NULL;
						req.method = "GET";
					}
					cur = target;
					origin = next;
					continue;
				}
				if (!status_retryable(resp->status))
					break;
			}
			else if (!transport_retryable(rc))
				report_transfer_error(srv, cur, transfer_connected(easy), rc, errbuf, resp, attempts);

			if (attempts > srv->max_retries)
			{
				if (rc != CURLE_OK)
					report_transfer_error(srv, cur, transfer_connected(easy), rc, errbuf, resp, attempts);
				break;
			}

			wait_before_retry(srv, req.method, cur, rc, resp, attempts, stats);
			attempts++;
		}
		resp->attempts = attempts;
		resp->final_url = cur;
	}
	PG_FINALLY();
	{
		easy_release(easy);
	}
	PG_END_TRY();

	if (resp->body.data == NULL)
		buffer_append(&resp->body, "", 0);
}

/* ERROR for a status other than 2xx, with a hint suited to the status. */
void
scaler_http_report_status(const ScalerServerOptions *srv, const char *url,
						  const ScalerHttpResponse *resp)
{
	long		status = resp->status;
	char	   *shown;
	char	   *excerpt;
	int			code;
	const char *hint;

	if (status >= 200 && status < 300)
		return;

	shown = scaler_display_url(srv, url);
	excerpt = scaler_body_excerpt(srv, resp->body.data, resp->body.len);

	if (status == 401 || status == 403)
	{
		code = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
		hint = "Check the credentials in the user mapping and the server's \"auth\" option.";
	}
	else if (status == 404)
	{
		code = ERRCODE_FDW_TABLE_NOT_FOUND;
		hint = "Check the foreign table's \"endpoint\" option against the provider's documentation.";
	}
	else if (status == 429)
	{
		code = ERRCODE_FDW_ERROR;
		hint = "The provider is limiting the request rate; try again later.";
	}
	else if (status >= 500)
	{
		code = ERRCODE_FDW_ERROR;
		hint = "The provider reported a failure on its side; try again later.";
	}
	else
	{
		code = ERRCODE_FDW_ERROR;
		hint = NULL;
	}

	ereport(ERROR,
			(errcode(code),
			 errmsg("server \"%s\" answered HTTP %ld to %s %s%s",
					srv->servername, status, resp->method, shown, attempts_suffix(resp->attempts)),
			 excerpt[0] ? errdetail("Response body: %s", excerpt) : errdetail("The response body was empty."),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * Resolve a next-page reference from a response against the URL that
 * produced it.  It must stay on the same origin: a provider's response must
 * not be able to send our credentials to another host.
 */
char *
scaler_resolve_next_url(const ScalerServerOptions *srv, const char *current,
						const char *anchor, const char *next)
{
	CURLU	   *u = curl_url();
	char	   *resolved = NULL;
	char	   *result = NULL;
	UrlOrigin	a,
				b;

	/* Setting a relative URL on a handle that holds one resolves it. */
	if (u && curl_url_set(u, CURLUPART_URL, current, 0) == CURLUE_OK &&
		curl_url_set(u, CURLUPART_URL, next, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_URL, &resolved, 0) == CURLUE_OK)
		result = pstrdup(resolved);
	curl_free(resolved);
	curl_url_cleanup(u);

	if (result == NULL || !url_origin(anchor, &a) || !url_origin(result, &b))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid next-page URL in the response to GET %s on server \"%s\"",
						scaler_display_url(srv, current), srv->servername),
				 errdetail("The URL was \"%s\".", scaler_redact(srv, next))));
	if (!same_origin(&a, &b))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("refused to follow a next-page URL to another origin from GET %s on server \"%s\"",
						scaler_display_url(srv, current), srv->servername),
				 errdetail("The URL was \"%s\"; credentials are sent only to the origin of the request.",
						   scaler_redact(srv, result))));
	return result;
}

/* ---------- concurrent first requests ---------- */

/*
 * GET n URLs at once (n is at most the server's max_concurrency): the
 * fan-out of a scan over many meters.  Each finishes as scaler_http_get
 * would: a response that is final on the first attempt (a 2xx, or an error
 * status that is not retried) is kept; anything else, a redirect, a
 * retryable failure, an expired token, is taken over by scaler_http_get,
 * with all its rules.  Rate budgets apply to every request.
 */
void
scaler_http_get_batch(const ScalerServerOptions *srv, const ScalerRequest *reqs,
					  ScalerHttpResponse **resps, int n, ScalerHttpStats *stats)
{
	CURLM	   *multi = get_multi();
	CURL	  **easies = palloc0(sizeof(CURL *) * n);
	struct curl_slist **headers = palloc0(sizeof(struct curl_slist *) * n);
	char	  **fulls = palloc(sizeof(char *) * n);
	char	  **errbufs = palloc(sizeof(char *) * n);
	CURLcode   *rcs = palloc(sizeof(CURLcode) * n);
	bool	   *connected = palloc0(sizeof(bool) * n);
	ScalerRequest *local = palloc(sizeof(ScalerRequest) * n);
	UrlOrigin	base;
	bool		have_base = url_origin(srv->base_url, &base);
	ScalerRequest req;
	instr_time	start,
				duration;

	INSTR_TIME_SET_CURRENT(start);

	/*
	 * Everything that may itself send a request (a token) or wait (the rate
	 * budget) happens before the first handle joins the shared multi handle.
	 */
	for (int i = 0; i < n; i++)
	{
		UrlOrigin	o;

		local[i] = reqs[i];
		check_request_url(srv, reqs[i].url, &o);
		if (!have_base || !same_origin(&o, &base))
			local[i].api_auth = false;	/* as in scaler_http_request */
		fulls[i] = local[i].api_auth ? request_url(srv, reqs[i].url) : pstrdup(reqs[i].url);
		errbufs[i] = palloc0(CURL_ERROR_SIZE);
		buffer_reset(&resps[i]->body);
		buffer_reset(&resps[i]->headers);
		resps[i]->status = 0;
		resps[i]->method = "GET";
		scaler_rate_acquire(srv);
	}

	PG_TRY();
	{
		for (int i = 0; i < n; i++)
			headers[i] = request_headers(srv, &local[i], true);
		for (int i = 0; i < n; i++)
		{
			easies[i] = easy_acquire();
			configure_easy(easies[i], srv, &local[i], fulls[i], true, resps[i], headers[i], errbufs[i]);
			add_transfer(easies[i]);
		}
		run_transfers(easies, rcs, n);
		for (int i = 0; i < n; i++)
		{
			connected[i] = transfer_connected(easies[i]);
			if (rcs[i] == CURLE_OK)
				curl_easy_getinfo(easies[i], CURLINFO_RESPONSE_CODE, &resps[i]->status);
		}
	}
	PG_FINALLY();
	{
		for (int i = 0; i < n; i++)
		{
			if (easies[i] != NULL)
			{
				curl_multi_remove_handle(multi, easies[i]);
				curl_easy_setopt(easies[i], CURLOPT_HTTPHEADER, NULL);
				easy_release(easies[i]);
			}
			curl_slist_free_all(headers[i]);
		}
	}
	PG_END_TRY();

	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	if (stats)
	{
		stats->requests += n;
		stats->elapsed_ms += INSTR_TIME_GET_MILLISEC(duration);
	}

	/* Finish each as the sequential path would, from its second attempt on. */
	for (int i = 0; i < n; i++)
	{
		ScalerHttpResponse *r = resps[i];
		bool		token_expired = rcs[i] == CURLE_OK && r->status == 401 &&
			(srv->auth == SCALER_AUTH_OAUTH2 || srv->auth == SCALER_AUTH_LOGIN);
		bool		retryable = rcs[i] == CURLE_OK ? status_retryable(r->status) : transport_retryable(rcs[i]);

		if (rcs[i] == CURLE_OK)
			observe_rate_headers(srv, r);
		if ((token_expired && local[i].api_auth) || (rcs[i] == CURLE_OK && is_redirect(r->status)))
		{
			/* Not a failure: a new token or the redirect target, with every rule. */
			req = reqs[i];
			if (token_expired)
				scaler_auth_invalidate(srv);
			scaler_http_request(srv, &req, r, stats);
		}
		else if (rcs[i] != CURLE_OK && (!retryable || srv->max_retries == 0))
			report_transfer_error(srv, reqs[i].url, connected[i], rcs[i], errbufs[i], r, 1);
		else if (retryable && srv->max_retries > 0)
		{
			wait_before_retry(srv, "GET", reqs[i].url, rcs[i], r, 1, stats);
			req = reqs[i];
			req.prior_attempts = 1;
			scaler_http_request(srv, &req, r, stats);
		}
		else
		{
			/* Final on the first attempt: a 2xx, or a status the caller reports. */
			r->attempts = 1;
			r->final_url = (char *) reqs[i].url;
			if (stats)
				stats->bytes += r->body.len;
			if (r->body.data == NULL)
				buffer_append(&r->body, "", 0);
		}
	}
}
