/*-------------------------------------------------------------------------
 *
 * scaler_fdw.h
 *		  Declarations shared by the scaler_fdw source files.
 *
 * The module is split by concern, as postgres_fdw is:
 *	 scaler_fdw.c	module entry, GUCs, handler
 *	 option.c		option catalog, validator, option lookup
 *	 http.c			libcurl engine: requests, auth, timeouts, cancel
 *	 records.c		record extraction: trie, levels, datums (records.h)
 *	 json_records.c	JSON pages through PostgreSQL's event parser
 *	 xml_records.c	XML pages through libxml2's SAX2 parser
 *	 scan.c			FDW planner and executor callbacks, EXPLAIN
 *	 sync.c			sink POST, sync progress, delivery worker
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_FDW_H
#define SCALER_FDW_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

#include "profile.h"

#define SCALER_FDW_VERSION "0.1.0"

/* ---------- option.c ---------- */

/* The first four are also the values of server option "auth". */
typedef enum ScalerAuthKind
{
	SCALER_AUTH_NONE,
	SCALER_AUTH_BASIC,
	SCALER_AUTH_BEARER,
	SCALER_AUTH_API_KEY,
	SCALER_AUTH_OAUTH2,			/* from a profile */
	SCALER_AUTH_LOGIN			/* from a profile */
} ScalerAuthKind;

/* What a scan needs to know about its server, merged with the user mapping. */
typedef struct ScalerServerOptions
{
	Oid			serverid;
	Oid			userid;			/* whose user mapping, if any was read */
	Oid			umid;			/* that user mapping */
	char	   *servername;
	ScalerProfile *profile;		/* NULL for a server without one */
	List	   *var_names;		/* profile_vars: request variables of every table */
	List	   *var_values;
	char	   *base_url;
	ScalerAuthKind auth;
	char	   *api_key_name;	/* header or query parameter name */
	bool		api_key_in_query;
	int			connect_timeout_ms;
	int			request_timeout_ms;
	int64		max_response_bytes;
	bool		ssl_verify;
	char	   *ca_file;
	int			max_retries;
	int			max_retry_wait_ms;
	int			max_concurrency;	/* request sets fetched at once */
	bool		null_on_conversion_error;
	double		rate_per_sec;	/* 0: no rate limit */
	int			rate_burst;
	int64		daily_limit;	/* 0: none */

	/* Credentials: only ever read from the user mapping. */
	char	   *username;
	char	   *password;
	char	   *token;
	char	   *api_key;
	char	   *client_id;
	char	   *client_secret;
} ScalerServerOptions;

extern void scaler_get_server_options(Oid serverid, Oid userid,
									  ScalerServerOptions *opts);
extern ScalerTableSpec *scaler_get_table_spec(Oid relid, const ScalerServerOptions *srv);
extern char *scaler_get_column_option(Oid relid, AttrNumber attnum, const char *name);

/* ---------- http.c ---------- */

/*
 * A growable byte buffer filled from libcurl callbacks.  It lives in a
 * memory context, so an ERROR anywhere frees it with the context; the
 * callbacks themselves never ereport (they return 0 to make curl abort).
 */
typedef struct ScalerBuffer
{
	MemoryContext cxt;
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		max;
	bool		overflow;
} ScalerBuffer;

typedef struct ScalerHttpStats
{
	int64		requests;
	int64		retries;
	int64		bytes;
	double		elapsed_ms;		/* in transfers */
	double		wait_ms;		/* in rate-budget and backoff waits */
} ScalerHttpStats;

typedef struct ScalerHttpResponse
{
	const char *method;
	long		status;
	int			attempts;		/* 1 + retries */
	char	   *final_url;		/* after redirects */
	ScalerBuffer body;			/* NUL-terminated when status is set */
	ScalerBuffer headers;		/* raw header lines of the final response */
} ScalerHttpResponse;

/* A request other than a plain GET of the API (token endpoints, sync POSTs). */
typedef struct ScalerRequest
{
	const char *method;
	const char *url;
	const char *body;			/* NULL: none */
	const char *content_type;
	bool		api_auth;		/* send the server's API credentials */
	const char *basic_user;		/* else: explicit Basic credentials, if any */
	const char *basic_password;
	int			prior_attempts; /* made elsewhere (a concurrent batch) */
	List	   *header_names;	/* extra headers of this request */
	List	   *header_values;
} ScalerRequest;

extern void scaler_http_request(const ScalerServerOptions *srv, const ScalerRequest *req,
								ScalerHttpResponse *resp, ScalerHttpStats *stats);
extern void scaler_http_get_batch(const ScalerServerOptions *srv, const ScalerRequest *reqs,
								  ScalerHttpResponse **resps, int n, ScalerHttpStats *stats);
extern void scaler_http_init_response(ScalerHttpResponse *resp,
									  MemoryContext cxt, int64 max_body);
extern void scaler_http_get(const ScalerServerOptions *srv, const char *url,
							ScalerHttpResponse *resp, ScalerHttpStats *stats);
extern char *scaler_http_header(const ScalerHttpResponse *resp,
								const char *name);
extern char *scaler_link_next(const ScalerHttpResponse *resp);
extern char *scaler_join_url(const char *base_url, const char *endpoint);
extern char *scaler_display_url(const ScalerServerOptions *srv,
								const char *url);
extern char *scaler_redact(const ScalerServerOptions *srv, const char *text);
extern char *scaler_body_excerpt(const ScalerServerOptions *srv,
								 const char *body, size_t len);
extern void scaler_http_report_status(const ScalerServerOptions *srv,
									  const char *url,
									  const ScalerHttpResponse *resp);
extern bool scaler_url_is_http(const char *url, char **scheme_out);
extern void scaler_check_url_allowed(const char *url);
extern char *scaler_url_with_params(const ScalerServerOptions *srv, const char *url,
									List *names, List *values);
extern char *scaler_resolve_next_url(const ScalerServerOptions *srv,
									 const char *current, const char *anchor,
									 const char *next);

/* ---------- auth.c ---------- */

extern char *scaler_auth_header(const ScalerServerOptions *srv);
extern void scaler_auth_invalidate(const ScalerServerOptions *srv);
extern const char *scaler_auth_cached_token(const ScalerServerOptions *srv);

/* ---------- rate_budget.c ---------- */

extern void scaler_rate_budget_install_hooks(void);
extern void scaler_rate_acquire(const ScalerServerOptions *srv);
extern void scaler_rate_pause(const ScalerServerOptions *srv, TimestampTz until);
extern void scaler_sleep_ms(long ms);

/* ---------- scaler_fdw.c ---------- */

extern char *scaler_allowed_hosts;

/* ---------- sync.c ---------- */

extern void scaler_sync_define_gucs(void);
extern void scaler_sync_preload(void);

/* ---------- records.c ---------- */

typedef struct RecordExtractor RecordExtractor;

/* A column a scan reads, and the field that fills it. */
typedef struct RecordColumn
{
	int			attnum;
	const char *name;
	const ScalerFieldSpec *field;
	bool		explicit_path;	/* from the column's json_path option */
} RecordColumn;

typedef struct RecordPage
{
	int			nrows;
	Datum	   *values;			/* nrows * natts */
	bool	   *nulls;
	bool		saw_records;	/* the records path was present */
	char	   *next_url;		/* pagination values from the body, or NULL */
	char	   *cursor;
	int64		total;			/* -1 if absent */
} RecordPage;

extern RecordExtractor *records_compile(TupleDesc tupdesc, List *columns,
										const struct ScalerTableSpec *table,
										List *var_names);
extern void records_set_null_on_error(RecordExtractor *ex, bool on);
extern int64 records_conversion_failures(RecordExtractor *ex, const char **first);
extern void records_parse_page(RecordExtractor *ex, char *body, size_t len,
							   RecordPage *page, const char *request_desc,
							   const char *const *var_values);

/* ---------- fetch.c ---------- */

/*
 * What a row of a request set must satisfy to belong to it: when a query
 * becomes several requests (one per value, windows of a time range), a
 * provider that filters loosely cannot return the same row twice.
 */
typedef struct SetCheck
{
	int			attidx;
	bool		is_time;
	char	   *text;			/* !is_time: the column's text equals it */
	bool		has_lo;			/* is_time: lo <= value < hi */
	TimestampTz lo;
	bool		has_hi;
	TimestampTz hi;
} SetCheck;

/* One logical request: its variables and query parameters, paged to its end. */
typedef struct RequestSet
{
	const char **var_values;	/* one per variable name of the fetch */
	List	   *param_names;
	List	   *param_values;
	List	   *checks;			/* of SetCheck */
} RequestSet;

typedef struct TableFetch
{
	const ScalerServerOptions *srv;
	const ScalerTableSpec *spec;
	RecordExtractor *ex;
	int			natts;
	List	   *var_names;
	List	   *sets;			/* of RequestSet */
	int			set_index;
	bool		set_done;
	int			pages_in_set;
	char	   *next_url;
	char	   *cursor;
	int64		page_no;
	int64		offset;
	MemoryContext cxt;			/* the fetch's life */
	MemoryContext page_cxt;		/* one page */
	ScalerHttpResponse resp;
	ScalerHttpResponse **prefetched;	/* per set: its first page, fetched ahead */
	List	   *ahead_urls;		/* the next pages of this set, fetched ahead, in order */
	List	   *ahead_resps;
	RecordPage	page;
	int			next_row;
	int			pages;
	int64		rows;
	int			request_sets_run;
	int64		limit;			/* a pushed LIMIT, 0 for none */
	ScalerHttpStats stats;
} TableFetch;

extern void fetch_init(TableFetch *f, const ScalerServerOptions *srv,
					   const ScalerTableSpec *spec, RecordExtractor *ex, int natts,
					   List *var_names, List *sets, MemoryContext parent);
extern void fetch_restart(TableFetch *f, List *sets);
extern bool fetch_next(TableFetch *f, Datum **values, bool **nulls);
extern void fetch_end(TableFetch *f);
typedef enum TemplateEscape
{
	ESCAPE_NONE,
	ESCAPE_URL,					/* a path segment */
	ESCAPE_JSON					/* inside a JSON string */
} TemplateEscape;

extern char *scaler_fill_template(const char *tmpl, List *var_names,
								  const char *const *var_values, TemplateEscape escape,
								  const char *table);
extern bool scaler_template_has_vars(const char *tmpl);

/* ---------- scan.c, import.c ---------- */

extern void scaler_fdw_routine_init(void *routine);
extern List *scalerImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

#endif							/* SCALER_FDW_H */
