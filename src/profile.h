/*-------------------------------------------------------------------------
 *
 * profile.h
 *		  The compiled form of a provider profile: how each canonical table
 *		  (assets, meters, consumption) is requested, paged, and read.
 *
 * A profile is a JSON document (see README, "Provider profiles").  It is
 * parsed with json-c (a DOM suits a document of a few kilobytes), validated
 * with error messages that name the JSON path inside the profile, and
 * compiled into these structs, which the scan uses and never re-parses.
 * Ad hoc foreign tables (endpoint, records_path, ... options) compile to
 * the same ScalerTableSpec.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_PROFILE_H
#define SCALER_PROFILE_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* One step of a path into a JSON document. */
typedef enum PathStepKind
{
	STEP_KEY,					/* an object member */
	STEP_INDEX,					/* an array element by position: [2] */
	STEP_EACH					/* every element of an array: [] */
} PathStepKind;

typedef struct PathStep
{
	PathStepKind kind;
	char	   *key;			/* STEP_KEY */
	char	   *pred_attr;		/* STEP_KEY, XML: "@name" the element must have */
	char	   *pred_value;		/* ... with this value */
	bool		pred_regex;		/* ... or matching this regular expression */
	int			index;			/* STEP_INDEX */
} PathStep;

/* A parsed path: "$" is the empty list. */
typedef List ScalerPath;		/* of PathStep */

typedef enum ValueFormat
{
	FMT_AUTO,					/* as the column type's input function reads it */
	FMT_ISO8601,				/* date or date-time, offset optional */
	FMT_DATE,					/* YYYY-MM-DD: midnight in the time zone */
	FMT_EPOCH,					/* seconds since 1970-01-01 UTC */
	FMT_EPOCH_MS				/* milliseconds since 1970-01-01 UTC */
} ValueFormat;

typedef enum FieldKind
{
	FIELD_PATH,					/* a value inside the record */
	FIELD_CONST,				/* the same value for every row */
	FIELD_TEMPLATE,				/* text with {path} placeholders */
	FIELD_VAR					/* a request variable (parent row, pushed value) */
} FieldKind;

typedef struct TemplatePart
{
	char	   *literal;		/* or NULL */
	ScalerPath *path;			/* placeholder, when literal is NULL */
	char	   *path_text;
} TemplatePart;

typedef struct ScalerFieldSpec
{
	char	   *column;
	FieldKind	kind;
	char	   *path_text;		/* FIELD_PATH, FIELD_VAR: as written */
	ScalerPath *path;			/* FIELD_PATH */
	char	   *const_value;	/* FIELD_CONST, NULL for JSON null */
	List	   *template_parts; /* FIELD_TEMPLATE: of TemplatePart */
	ValueFormat format;
	char	   *timezone;		/* for naive date-times and dates */
	List	   *map_from;		/* value mapping, parallel lists of char * */
	List	   *map_to;
	char	   *map_default;	/* when no mapping matches; NULL keeps the value */
	bool		has_map_default;
	char	   *sql_type;		/* the column type IMPORT FOREIGN SCHEMA gives it */
	char	   *duration_path;	/* seconds, read from the record, added to a time */
	char	   *pattern;		/* a regular expression: its first group (or match) is the value */
	char	   *power_of_ten_var;	/* a request variable n: the value times 10^n, exactly */
	Interval   *add;			/* added to a time (a period end from its start) */
} ScalerFieldSpec;

typedef enum PaginationKind
{
	PAGINATE_NONE,
	PAGINATE_NEXT_URL,
	PAGINATE_LINK_HEADER,
	PAGINATE_PAGE,
	PAGINATE_OFFSET,
	PAGINATE_CURSOR,
	PAGINATE_NEXT_LINK			/* XML: a link element picked by an attribute */
} PaginationKind;

typedef struct ScalerPaginationSpec
{
	PaginationKind kind;
	char	   *next_path;		/* NEXT_URL: path to the next URL; NEXT_LINK: to the links */
	char	   *link_match_attr;	/* NEXT_LINK: "@name" of the attribute to match */
	char	   *link_match_value;	/* NEXT_LINK: its value, compared ignoring case */
	char	   *link_url_attr;	/* NEXT_LINK: "@name" of the attribute with the URL */
	bool		links_from_base_url;	/* a link "/x" is base_url + "/x" */
	char	   *param;			/* PAGE: page, OFFSET: offset, CURSOR: cursor */
	int			start;			/* PAGE: 0 or 1 */
	char	   *size_param;		/* PAGE, OFFSET, CURSOR: page size / limit */
	int			size;
	char	   *total_path;		/* PAGE: total pages; OFFSET: total records */
	char	   *cursor_path;	/* CURSOR: where the next cursor is */
	int			max_pages;		/* 0: no limit */
} ScalerPaginationSpec;

typedef enum FilterKind
{
	FILTER_PARAM,				/* equality (and IN) as a query parameter */
	FILTER_PATH_VAR,			/* equality as a {variable} of the path */
	FILTER_RANGE				/* a time range as from/to parameters */
} FilterKind;

typedef struct ScalerFilterSpec
{
	char	   *column;
	FilterKind	kind;
	char	   *param;			/* PARAM */
	char	   *list_separator; /* PARAM: IN as one list; NULL: one request per value */
	char	   *from_param;		/* RANGE */
	char	   *to_param;
	ValueFormat format;			/* RANGE: how times are written */
	char	   *timezone;
	bool		end_inclusive;	/* RANGE: the API's "to" includes its instant */
	int64		max_window_secs;	/* RANGE: longest span one request may ask */
} ScalerFilterSpec;

/* More records of a table, from another path of the same response. */
typedef struct ScalerRecordSource
{
	char	   *records_text;
	ScalerPath *records;
	List	   *fields;			/* fields that differ from the table's */
} ScalerRecordSource;

typedef struct ScalerTableSpec
{
	char	   *name;
	char	   *path;			/* template, relative to base_url, or an absolute URL */
	char	   *method;			/* GET or POST */
	bool		xml;			/* responses are XML ("format": "xml") */
	bool		internal;		/* only a parent of other tables: not imported */
	char	   *body;			/* POST: a JSON template, {var} values JSON-escaped */
	List	   *query_names;	/* static query parameters (templates allowed) */
	List	   *query_values;
	List	   *header_names;	/* this table's own headers (templates allowed) */
	List	   *header_values;
	ScalerPaginationSpec pagination;
	char	   *records_text;
	ScalerPath *records;
	List	   *more_sources;	/* of ScalerRecordSource */
	List	   *fields;			/* of ScalerFieldSpec */
	List	   *filters;		/* of ScalerFilterSpec */
	char	   *parent_table;	/* fan-out: one request set per parent row */
	List	   *parent_vars;	/* variables taken from the parent row */
	double		rows_estimate;
} ScalerTableSpec;

typedef enum ProfileAuthKind
{
	PAUTH_NONE,
	PAUTH_BASIC,
	PAUTH_BEARER,
	PAUTH_API_KEY,
	PAUTH_OAUTH2,
	PAUTH_LOGIN
} ProfileAuthKind;

typedef struct ScalerProfile
{
	char	   *name;
	char	   *base_url;		/* may be NULL: the server must give one */
	List	   *environments;	/* names a server may choose with option "environment" */
	ProfileAuthKind auth;
	char	   *api_key_name;
	bool		api_key_in_query;
	char	   *oauth_grant;	/* client_credentials or password */
	char	   *oauth_token_url;
	char	   *oauth_scope;
	char	   *login_url;
	char	   *login_body;		/* JSON template with {username} {password} */
	char	   *login_token_path;
	char	   *login_header;
	char	   *login_prefix;
	List	   *header_names;	/* extra static headers */
	List	   *header_values;
	double		rate_per_sec;
	int			rate_burst;
	int64		daily_limit;
	List	   *tables;			/* of ScalerTableSpec */
} ScalerProfile;

/* Built-in profiles, embedded from profiles/NAME.json by src/gen_builtin_profiles.sh. */
typedef struct ScalerBuiltinProfile
{
	const char *name;
	const char *json;
} ScalerBuiltinProfile;

extern const ScalerBuiltinProfile scaler_builtin_profile_list[];

/* profile.c */
extern void scaler_profile_error(const char *where, const char *fmt,...) pg_attribute_printf(2, 3) pg_attribute_noreturn();
extern ScalerProfile *scaler_profile_load(const char *provider, const char *profile_json,
										  const char *override_json, const char *environment);
extern ScalerTableSpec *scaler_profile_table(ScalerProfile *profile, const char *name,
											 bool missing_ok);
extern ScalerFieldSpec *scaler_table_field(ScalerTableSpec *table, const char *column);
extern ScalerFilterSpec *scaler_table_filter(ScalerTableSpec *table, const char *column);
extern ScalerPath *scaler_parse_path(const char *text, const char *where, bool allow_each);
extern const char *scaler_builtin_profile_text(const char *name);
extern void scaler_parse_profile_vars(const char *text, List **names, List **values);
extern List *scaler_builtin_profile_names(void);

#endif							/* SCALER_PROFILE_H */
