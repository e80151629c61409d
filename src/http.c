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

#include "miscadmin.h"
#include "mb/pg_wchar.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#define POLL_INTERVAL_MS	50
#define MAX_REDIRECTS		5
#define EXCERPT_BYTES		300
#define EASY_POOL_SIZE		16

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
	const char *secrets[4];
	int			nsecrets = 0;
	char	   *result = pstrdup(text);

	if (srv->password && srv->password[0])
		secrets[nsecrets++] = srv->password;
	if (srv->token)
		secrets[nsecrets++] = srv->token;
	if (srv->api_key)
		secrets[nsecrets++] = srv->api_key;
	if (srv->auth == SCALER_AUTH_BASIC && srv->username && srv->username == srv->api_key)
		secrets[nsecrets++] = srv->username;

	for (int i = 0; i < nsecrets; i++)
	{
		char	   *encoded = curl_easy_escape(NULL, secrets[i], 0);

		for (int form = 0; form < 2; form++)
		{
			const char *s = form == 0 ? secrets[i] : encoded;
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
	size_t		n = Min(len, (size_t) EXCERPT_BYTES);
	char	   *copy;
	char	   *result;

	if (body == NULL || len == 0)
		return pstrdup("");
	copy = pnstrdup(body, n);
	for (char *p = copy; *p; p++)
		if ((unsigned char) *p < 0x20)
			*p = ' ';
	/* Don't cut a multibyte character in half, nor pass on invalid bytes. */
	n = pg_mbcliplen(copy, strlen(copy), strlen(copy));
	copy[n] = '\0';
	if (!pg_verifymbstr(copy, n, true))
		return pstrdup("(response body is not valid text)");
	result = scaler_redact(srv, copy);
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
	if (u == NULL ||
		curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_set(u, CURLUPART_QUERY, param, CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK ||
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

static void
configure_easy(CURL *easy, const ScalerServerOptions *srv, const char *url,
			   ScalerHttpResponse *resp, struct curl_slist *headers,
			   char *errbuf)
{
	SETOPT(easy, CURLOPT_URL, url);
	SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
	SETOPT(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(easy, CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(easy, CURLOPT_MAXREDIRS, (long) MAX_REDIRECTS);
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
	if (srv->auth == SCALER_AUTH_BASIC)
	{
		SETOPT(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		SETOPT(easy, CURLOPT_USERNAME, srv->username);
		SETOPT(easy, CURLOPT_PASSWORD, srv->password);
	}
	SETOPT(easy, CURLOPT_HTTPHEADER, headers);
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *line)
{
	struct curl_slist *l = curl_slist_append(list, line);

	if (l == NULL)
	{
		curl_slist_free_all(list);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	return l;
}

/* Run one transfer to completion, checking for interrupts while it waits. */
static CURLcode
perform_interruptible(CURL *easy)
{
	CURLM	   *multi = get_multi();
	CURLMcode	mc;
	volatile CURLcode result = CURLE_OK;
	volatile bool done = false;

	mc = curl_multi_add_handle(multi, easy);
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start HTTP request: %s", curl_multi_strerror(mc))));

	PG_TRY();
	{
		while (!done)
		{
			int			running;
			CURLMsg    *msg;
			int			queued;

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
				if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
				{
					result = msg->data.result;
					done = true;
				}
			}
			if (done)
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
	PG_FINALLY();
	{
		curl_multi_remove_handle(multi, easy);
	}
	PG_END_TRY();

	return result;
}

static void
report_transfer_error(const ScalerServerOptions *srv, const char *url,
					  CURL *easy, CURLcode rc, const char *errbuf,
					  const ScalerHttpResponse *resp)
{
	char	   *shown = scaler_display_url(srv, url);
	char	   *detail = scaler_redact(srv, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	curl_off_t	connect_us = 0;
	long		new_connections = 0;
	bool		connected;

	/* A reused keep-alive connection reports no connect time of its own. */
	curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &new_connections);
	connected = connect_us > 0 || new_connections == 0;

	switch (rc)
	{
		case CURLE_WRITE_ERROR:
			if (resp->body.overflow)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("response to GET %s from server \"%s\" is larger than max_response_size (%zu bytes)",
								shown, srv->servername, resp->body.max),
						 errhint("Raise the server option \"max_response_size\", or ask for smaller pages.")));
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while receiving GET %s from server \"%s\"",
							shown, srv->servername)));
			break;
		case CURLE_OPERATION_TIMEDOUT:
			if (!connected)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
						 errmsg("could not connect to server \"%s\" within connect_timeout (%d ms) for GET %s",
								srv->servername, srv->connect_timeout_ms, shown),
						 errdetail("%s", detail)));
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("GET %s on server \"%s\" did not complete within request_timeout (%d ms)",
							shown, srv->servername, srv->request_timeout_ms),
					 errdetail("%s", detail),
					 errhint("Raise the server option \"request_timeout\" if the provider is slow but working.")));
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("refused to follow GET %s on server \"%s\" to a URL that is not http or https",
							shown, srv->servername),
					 errdetail("%s", detail)));
			break;
		case CURLE_TOO_MANY_REDIRECTS:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("GET %s on server \"%s\" was redirected more than %d times",
							shown, srv->servername, MAX_REDIRECTS)));
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CONNECT_ERROR:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("TLS handshake with server \"%s\" failed for GET %s",
							srv->servername, shown),
					 errdetail("%s", detail),
					 errhint("If the provider uses a private CA, set the server option \"ca_file\".")));
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not connect to server \"%s\" for GET %s",
							srv->servername, shown),
					 errdetail("%s", detail)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("GET %s on server \"%s\" failed: %s",
							shown, srv->servername, curl_easy_strerror(rc)),
					 errdetail("%s", detail)));
	}
}

/*
 * GET url with the server's authentication and limits.  On return
 * resp->status holds the HTTP status and resp->body the body; a transport
 * failure is an ERROR.  HTTP error statuses are left to the caller.
 */
void
scaler_http_get(const ScalerServerOptions *srv, const char *url,
				ScalerHttpResponse *resp, ScalerHttpStats *stats)
{
	CURL	   *volatile easy;
	struct curl_slist *volatile headers = NULL;
	char		errbuf[CURL_ERROR_SIZE];
	char	   *full_url = request_url(srv, url);
	CURLcode	rc = CURLE_OK;
	instr_time	start,
				duration;

	buffer_reset(&resp->body);
	buffer_reset(&resp->headers);
	resp->status = 0;
	errbuf[0] = '\0';

	headers = add_header(headers, "Accept: application/json");
	if (srv->auth == SCALER_AUTH_BEARER)
		headers = add_header(headers, psprintf("Authorization: Bearer %s", srv->token));
	else if (srv->auth == SCALER_AUTH_API_KEY && !srv->api_key_in_query)
		headers = add_header(headers, psprintf("%s: %s", srv->api_key_name, srv->api_key));

	easy = easy_acquire();
	INSTR_TIME_SET_CURRENT(start);
	PG_TRY();
	{
		configure_easy(easy, srv, full_url, resp, headers, errbuf);
		rc = perform_interruptible(easy);
		if (rc == CURLE_OK)
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->status);
		else
			report_transfer_error(srv, url, easy, rc, errbuf, resp);
	}
	PG_FINALLY();
	{
		/* The handle forgets the slist before the list is freed. */
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(headers);
		easy_release(easy);
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
			 errmsg("server \"%s\" answered HTTP %ld to GET %s",
					srv->servername, status, shown),
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
						const char *next)
{
	CURLU	   *cur = curl_url();
	CURLU	   *nxt = curl_url();
	char	   *resolved = NULL;
	char	   *origin[2][3] = {{NULL, NULL, NULL}, {NULL, NULL, NULL}};
	const CURLUPart parts[3] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
	bool		ok;
	bool		same_origin = true;
	char	   *result;

	ok = cur && nxt &&
		curl_url_set(cur, CURLUPART_URL, current, 0) == CURLUE_OK &&
		curl_url_set(nxt, CURLUPART_URL, current, 0) == CURLUE_OK &&
		curl_url_set(nxt, CURLUPART_URL, next, 0) == CURLUE_OK &&
		curl_url_get(nxt, CURLUPART_URL, &resolved, 0) == CURLUE_OK;
	for (int i = 0; ok && i < 3; i++)
	{
		curl_url_get(cur, parts[i], &origin[0][i], CURLU_DEFAULT_PORT);
		curl_url_get(nxt, parts[i], &origin[1][i], CURLU_DEFAULT_PORT);
		if (origin[0][i] == NULL || origin[1][i] == NULL ||
			pg_strcasecmp(origin[0][i], origin[1][i]) != 0)
			same_origin = false;
	}
	result = ok ? pstrdup(resolved) : NULL;
	for (int i = 0; i < 3; i++)
	{
		curl_free(origin[0][i]);
		curl_free(origin[1][i]);
	}
	curl_free(resolved);
	curl_url_cleanup(cur);
	curl_url_cleanup(nxt);

	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid next-page URL in the response to GET %s on server \"%s\"",
						scaler_display_url(srv, current), srv->servername),
				 errdetail("The URL was \"%s\".", scaler_redact(srv, next))));
	if (!same_origin)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("refused to follow a next-page URL to another origin from GET %s on server \"%s\"",
						scaler_display_url(srv, current), srv->servername),
				 errdetail("The URL was \"%s\"; credentials are sent only to the origin of the request.",
						   scaler_redact(srv, result))));
	return result;
}
