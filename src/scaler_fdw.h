/*-------------------------------------------------------------------------
 *
 * scaler_fdw.h
 *		  Declarations shared by the scaler_fdw source files.
 *
 * The module is split by concern, as postgres_fdw is:
 *	 scaler_fdw.c	module entry, GUCs, handler
 *	 option.c		option catalog, validator, option lookup
 *	 http.c			libcurl engine: requests, auth, timeouts, cancel
 *	 json_records.c	streaming JSON record extraction into datums
 *	 scan.c			FDW planner and executor callbacks, EXPLAIN
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
#include "nodes/pg_list.h"
#include "utils/relcache.h"

#define SCALER_FDW_VERSION "0.1.0"

/* ---------- option.c ---------- */

typedef enum ScalerAuthKind
{
	SCALER_AUTH_NONE,
	SCALER_AUTH_BASIC,
	SCALER_AUTH_BEARER,
	SCALER_AUTH_API_KEY
} ScalerAuthKind;

typedef enum ScalerPagination
{
	SCALER_PAGINATE_NONE,
	SCALER_PAGINATE_NEXT_URL,
	SCALER_PAGINATE_LINK_HEADER
} ScalerPagination;

/* What a scan needs to know about its server, merged with the user mapping. */
typedef struct ScalerServerOptions
{
	Oid			serverid;
	char	   *servername;
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
	double		rate_per_sec;	/* 0: no rate limit */
	int			rate_burst;
	int64		daily_limit;	/* 0: none */

	/* Credentials: only ever read from the user mapping. */
	char	   *username;
	char	   *password;
	char	   *token;
	char	   *api_key;
} ScalerServerOptions;

typedef struct ScalerTableOptions
{
	char	   *endpoint;
	char	   *records_path;
	ScalerPagination pagination;
	char	   *next_url_path;
	int			max_pages;		/* 0 = no limit */
	double		rows_estimate;
} ScalerTableOptions;

extern void scaler_get_server_options(Oid serverid, Oid userid,
									  ScalerServerOptions *opts);
extern void scaler_get_table_options(Oid relid, ScalerTableOptions *opts);
extern char *scaler_get_column_path(Oid relid, AttrNumber attnum,
									const char *attname);
extern const char *scaler_pagination_name(ScalerPagination p);

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
	long		status;
	int			attempts;		/* 1 + retries */
	char	   *final_url;		/* after redirects */
	ScalerBuffer body;			/* NUL-terminated when status is set */
	ScalerBuffer headers;		/* raw header lines of the final response */
} ScalerHttpResponse;

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
extern char *scaler_resolve_next_url(const ScalerServerOptions *srv,
									 const char *current, const char *next);

/* ---------- rate_budget.c ---------- */

extern void scaler_rate_budget_install_hooks(void);
extern void scaler_rate_acquire(const ScalerServerOptions *srv);
extern void scaler_rate_pause(const ScalerServerOptions *srv, TimestampTz until);
extern void scaler_sleep_ms(long ms);

/* ---------- scaler_fdw.c ---------- */

extern char *scaler_allowed_hosts;

/* ---------- json_records.c ---------- */

typedef struct RecordExtractor RecordExtractor;

typedef struct RecordPage
{
	int			nrows;
	int			capacity;
	Datum	   *values;			/* nrows * natts */
	bool	   *nulls;
	char	   *next_url;		/* from the body, or NULL */
	bool		saw_records;	/* the records path was present */
} RecordPage;

extern RecordExtractor *records_compile(Relation rel, TupleDesc tupdesc,
										List *retrieved_attrs,
										const char *records_path,
										const char *next_url_path);
extern void records_parse_page(RecordExtractor *ex, char *body, size_t len,
							   RecordPage *page, const char *request_desc);

/* ---------- scan.c ---------- */

extern void scaler_fdw_routine_init(void *routine);

#endif							/* SCALER_FDW_H */
