/*-------------------------------------------------------------------------
 *
 * auth.c
 *		  Token-based authentication: OAuth2 (client credentials and
 *		  password grants) and login exchanges.
 *
 * A token is fetched on first use and cached per backend, keyed by server
 * and user, until shortly before it expires; a 401 from the API drops it
 * and the request is retried once with a new one (http.c).  Tokens are
 * secrets: they are kept in TopMemoryContext only, and every message the
 * extension prints has them redacted.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include <curl/curl.h>

/* PostgreSQL's json_object() SQL function would clash with json-c's type. */
#define json_object pg_json_object_function
#include "utils/builtins.h"
#undef json_object
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include <json-c/json.h>

/* Refresh this long before the provider's expiry, to cover clock skew and latency. */
#define EXPIRY_MARGIN_SECS	60

typedef struct TokenKey
{
	Oid			serverid;
	Oid			userid;
} TokenKey;

typedef struct TokenEntry
{
	TokenKey	key;
	char	   *token;			/* in TopMemoryContext */
	TimestampTz expires;		/* 0: no expiry given */
	uint32		server_hash;	/* syscache hashes, to know which changes concern it */
	uint32		mapping_hash;
} TokenEntry;

static HTAB *token_cache = NULL;

/*
 * A changed server or user mapping may mean other credentials: forget the
 * tokens it concerns (all of them after a cache reset), as postgres_fdw
 * drops connections.
 */
static void
token_inval_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	TokenEntry *e;

	if (token_cache == NULL)
		return;
	hash_seq_init(&scan, token_cache);
	while ((e = (TokenEntry *) hash_seq_search(&scan)) != NULL)
	{
		if (hashvalue != 0 &&
			!(cacheid == FOREIGNSERVEROID && e->server_hash == hashvalue) &&
			!(cacheid == USERMAPPINGOID && e->mapping_hash == hashvalue))
			continue;
		if (e->token)
			pfree(e->token);
		e->token = NULL;
	}
}

static TokenEntry *
token_entry(const ScalerServerOptions *srv, bool create)
{
	TokenKey	key;
	bool		found;

	if (token_cache == NULL)
	{
		HASHCTL		info;

		if (!create)
			return NULL;
		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(TokenKey);
		info.entrysize = sizeof(TokenEntry);
		info.hcxt = TopMemoryContext;
		token_cache = hash_create("scaler_fdw tokens", 16, &info,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, token_inval_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID, token_inval_callback, (Datum) 0);
	}
	memset(&key, 0, sizeof(key));
	key.serverid = srv->serverid;
	key.userid = srv->userid;
	if (!create)
		return hash_search(token_cache, &key, HASH_FIND, NULL);
	{
		TokenEntry *e = hash_search(token_cache, &key, HASH_ENTER, &found);

		if (!found)
		{
			e->token = NULL;
			e->expires = 0;
			e->server_hash = GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(srv->serverid));
			e->mapping_hash = GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(srv->umid));
		}
		return e;
	}
}

const char *
scaler_auth_cached_token(const ScalerServerOptions *srv)
{
	TokenEntry *e = token_entry(srv, false);

	return e ? e->token : NULL;
}

void
scaler_auth_invalidate(const ScalerServerOptions *srv)
{
	TokenEntry *e = token_entry(srv, false);

	if (e && e->token)
	{
		pfree(e->token);
		e->token = NULL;
	}
}

static void
form_param(StringInfo buf, const char *name, const char *value)
{
	char	   *esc = curl_easy_escape(NULL, value, 0);

	if (esc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	appendStringInfo(buf, "%s%s=%s", buf->len ? "&" : "", name, esc);
	curl_free(esc);
}

/* {username} and {password} in the login body template, JSON-escaped. */
static char *
login_body(const ScalerServerOptions *srv)
{
	const char *values[2] = {srv->username, srv->password};

	return scaler_fill_template(srv->profile->login_body,
								list_make2("username", "password"), values,
								ESCAPE_JSON, "login");
}

/* The value at a dotted path of a json-c tree, or NULL. */
static struct json_object *
json_path_get(struct json_object *root, const char *path)
{
	char	   *copy = pstrdup(path);
	char	   *save = NULL;
	struct json_object *cur = root;

	for (char *seg = strtok_r(copy, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save))
	{
		struct json_object *next = NULL;

		if (json_object_get_type(cur) != json_type_object ||
			!json_object_object_get_ex(cur, seg, &next))
			return NULL;
		cur = next;
	}
	return cur;
}

static int64
json_path_seconds(struct json_object *root, const char *path)
{
	struct json_object *v = json_path_get(root, path);

	if (v && (json_object_get_type(v) == json_type_int || json_object_get_type(v) == json_type_double))
		return json_object_get_int64(v);
	return 0;
}

static void
token_error(const ScalerServerOptions *srv, const char *url, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("could not get an access token for server \"%s\" from %s",
					srv->servername, scaler_display_url(srv, url)),
			 errdetail("%s", what),
			 errhint("Check the credentials in the user mapping and the profile's \"auth\".")));
}

/* Request a token; the caller caches it. */
static void
fetch_token(const ScalerServerOptions *srv, TokenEntry *e)
{
	const ScalerProfile *p = srv->profile;
	ScalerRequest req;
	ScalerHttpResponse resp;
	StringInfoData body;
	struct json_object *root;
	const char *token;
	int64		expires_in = 0;
	char	   *url;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "scaler_fdw token",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	initStringInfo(&body);
	if (srv->auth == SCALER_AUTH_OAUTH2)
	{
		url = scaler_join_url(srv->base_url, p->oauth_token_url);
		form_param(&body, "grant_type", p->oauth_grant);
		if (strcmp(p->oauth_grant, "password") == 0)
		{
			form_param(&body, "username", srv->username);
			form_param(&body, "password", srv->password);
		}
		if (p->oauth_scope)
			form_param(&body, "scope", p->oauth_scope);
		/* RFC 6749 2.3.1: the client authenticates with HTTP Basic. */
		req.basic_user = srv->client_id;
		req.basic_password = srv->client_secret;
		req.body = body.data;
		req.content_type = "application/x-www-form-urlencoded";
	}
	else
	{
		url = scaler_join_url(srv->base_url, p->login_url);
		req.body = login_body(srv);
		req.content_type = "application/json";
	}
	req.url = url;
	scaler_http_init_response(&resp, cxt, 1024 * 1024);
	scaler_http_request(srv, &req, &resp, NULL);
	if (resp.status < 200 || resp.status >= 300)
		token_error(srv, url, psprintf("HTTP %ld: %s", resp.status,
									   scaler_body_excerpt(srv, resp.body.data, resp.body.len)));

	root = json_tokener_parse(resp.body.data);
	if (root == NULL)
		token_error(srv, url, "The response is not JSON.");
	{
		const char *path = srv->auth == SCALER_AUTH_OAUTH2 ? "access_token" : p->login_token_path;
		struct json_object *t = json_path_get(root, path);
		char	   *dot = strrchr(path, '.');

		token = (t && json_object_get_type(t) == json_type_string) ? pstrdup(json_object_get_string(t)) : NULL;
		/* expires_in beside the token, or at the top */
		if (dot)
			expires_in = json_path_seconds(root, psprintf("%.*s.expires_in", (int) (dot - path), path));
		if (expires_in <= 0)
			expires_in = json_path_seconds(root, "expires_in");
		json_object_put(root);
		if (token == NULL || token[0] == '\0')
			token_error(srv, url, psprintf("The response has no token at \"%s\".", path));
	}
	if (e->token)
		pfree(e->token);
	e->token = MemoryContextStrdup(TopMemoryContext, token);
	e->expires = expires_in > 0
		? TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
									  Max(expires_in - EXPIRY_MARGIN_SECS, expires_in / 2) * 1000)
		: 0;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/* The header line that carries the server's current token. */
char *
scaler_auth_header(const ScalerServerOptions *srv)
{
	TokenEntry *e = token_entry(srv, true);

	if (e->token == NULL || (e->expires != 0 && GetCurrentTimestamp() >= e->expires))
		fetch_token(srv, e);
	if (srv->auth == SCALER_AUTH_OAUTH2)
		return psprintf("Authorization: Bearer %s", e->token);
	return psprintf("%s: %s%s", srv->profile->login_header, srv->profile->login_prefix, e->token);
}
