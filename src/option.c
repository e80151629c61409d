/*-------------------------------------------------------------------------
 *
 * option.c
 *		  The option catalog of scaler_fdw: which option is valid where,
 *		  how its value is checked, and how a scan reads the options back.
 *
 * Every option is checked when it is set (CREATE/ALTER), so a scan can
 * trust what it reads.  Credentials are accepted only in user mappings:
 * server and table options are readable by anyone with USAGE, and they
 * appear in pg_dump output and in EXPLAIN.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include <math.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_attribute.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

typedef enum OptionKind
{
	OPT_TEXT,
	OPT_URL,					/* absolute http(s) URL */
	OPT_ENDPOINT,				/* path relative to base_url, or http(s) URL */
	OPT_JSON_PATH,				/* dotted path into a JSON document */
	OPT_DURATION,				/* seconds, or a PostgreSQL duration ('500ms') */
	OPT_BYTES,					/* bytes, or a PostgreSQL size ('64MB') */
	OPT_INT,					/* non-negative integer */
	OPT_BOOL,
	OPT_ENUM,
	OPT_HEADER_NAME,
	OPT_ABS_PATH,				/* absolute file name */
	OPT_RATE,					/* requests per second: "5", "0.5", "60/min" */
	OPT_JSON					/* a JSON document, checked by whoever reads it */
} OptionKind;

typedef struct ScalerOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	OptionKind	kind;
	const char *const *choices; /* OPT_ENUM only, NULL-terminated */
	bool		secret;			/* a credential: user mappings only */
} ScalerOption;

static const char *const auth_choices[] = {"none", "basic", "bearer", "api_key", NULL};
static const char *const api_key_in_choices[] = {"header", "query", NULL};
static const char *const pagination_choices[] = {"none", "next_url", "link_header", NULL};
static const char *const conversion_error_choices[] = {"error", "null", NULL};
static const char *const format_choices[] = {"json", "xml", NULL};

static const ScalerOption scaler_options[] = {
	/* server */
	{"base_url", ForeignServerRelationId, OPT_URL, NULL, false},
	{"auth", ForeignServerRelationId, OPT_ENUM, auth_choices, false},
	{"api_key_name", ForeignServerRelationId, OPT_HEADER_NAME, NULL, false},
	{"api_key_in", ForeignServerRelationId, OPT_ENUM, api_key_in_choices, false},
	{"connect_timeout", ForeignServerRelationId, OPT_DURATION, NULL, false},
	{"request_timeout", ForeignServerRelationId, OPT_DURATION, NULL, false},
	{"max_response_size", ForeignServerRelationId, OPT_BYTES, NULL, false},
	{"ssl_verify", ForeignServerRelationId, OPT_BOOL, NULL, false},
	{"ca_file", ForeignServerRelationId, OPT_ABS_PATH, NULL, false},
	{"max_retries", ForeignServerRelationId, OPT_INT, NULL, false},
	{"max_retry_wait", ForeignServerRelationId, OPT_DURATION, NULL, false},
	{"max_concurrency", ForeignServerRelationId, OPT_INT, NULL, false},
	{"on_conversion_error", ForeignServerRelationId, OPT_ENUM, conversion_error_choices, false},
	{"rate_limit", ForeignServerRelationId, OPT_RATE, NULL, false},
	{"rate_burst", ForeignServerRelationId, OPT_INT, NULL, false},
	{"daily_limit", ForeignServerRelationId, OPT_INT, NULL, false},
	{"provider", ForeignServerRelationId, OPT_TEXT, NULL, false},
	{"profile", ForeignServerRelationId, OPT_JSON, NULL, false},
	{"profile_override", ForeignServerRelationId, OPT_JSON, NULL, false},
	{"profile_vars", ForeignServerRelationId, OPT_JSON, NULL, false},
	{"environment", ForeignServerRelationId, OPT_TEXT, NULL, false},

	/* user mapping: the only place credentials may live */
	{"username", UserMappingRelationId, OPT_TEXT, NULL, true},
	{"password", UserMappingRelationId, OPT_TEXT, NULL, true},
	{"token", UserMappingRelationId, OPT_TEXT, NULL, true},
	{"api_key", UserMappingRelationId, OPT_TEXT, NULL, true},
	{"client_id", UserMappingRelationId, OPT_TEXT, NULL, true},
	{"client_secret", UserMappingRelationId, OPT_TEXT, NULL, true},

	/* foreign table */
	{"table", ForeignTableRelationId, OPT_TEXT, NULL, false},
	{"endpoint", ForeignTableRelationId, OPT_ENDPOINT, NULL, false},
	{"records_path", ForeignTableRelationId, OPT_JSON_PATH, NULL, false},
	{"pagination", ForeignTableRelationId, OPT_ENUM, pagination_choices, false},
	{"next_url_path", ForeignTableRelationId, OPT_JSON_PATH, NULL, false},
	{"max_pages", ForeignTableRelationId, OPT_INT, NULL, false},
	{"estimated_rows", ForeignTableRelationId, OPT_INT, NULL, false},
	{"format", ForeignTableRelationId, OPT_ENUM, format_choices, false},

	/* column */
	{"json_path", AttributeRelationId, OPT_JSON_PATH, NULL, false},

	{NULL, InvalidOid, OPT_TEXT, NULL, false}
};

#define DEFAULT_CONNECT_TIMEOUT_MS	10000
#define DEFAULT_REQUEST_TIMEOUT_MS	60000
#define DEFAULT_MAX_RESPONSE_BYTES	((int64) 256 * 1024 * 1024)
#define DEFAULT_ESTIMATED_ROWS		1000
#define DEFAULT_MAX_RETRIES			3
#define DEFAULT_MAX_RETRY_WAIT_MS	60000
#define DEFAULT_MAX_CONCURRENCY		4
#define MAX_CONCURRENCY				64

PG_FUNCTION_INFO_V1(scaler_fdw_validator);

static const char *
context_name(Oid context)
{
	switch (context)
	{
		case ForeignDataWrapperRelationId:
			return "foreign-data wrapper";
		case ForeignServerRelationId:
			return "server";
		case UserMappingRelationId:
			return "user mapping";
		case ForeignTableRelationId:
			return "foreign table";
		case AttributeRelationId:
			return "foreign table column";
	}
	return "object";
}

static const ScalerOption *
find_option(const char *name)
{
	for (const ScalerOption *o = scaler_options; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* The valid option for this catalog closest to a misspelt name, if any is close. */
static const char *
closest_option(const char *name, Oid context)
{
	const char *best = NULL;
	int			best_dist = INT_MAX;
	int			len = strlen(name);

	for (const ScalerOption *o = scaler_options; o->name; o++)
	{
		int			d;

		if (o->context != context)
			continue;
		d = varstr_levenshtein(name, len, o->name, strlen(o->name), 1, 1, 1, true);
		if (d < best_dist)
		{
			best_dist = d;
			best = o->name;
		}
	}
	/* Suggest only plausible typos, not any option at all. */
	if (best != NULL && best_dist <= Max(2, len / 3))
		return best;
	return NULL;
}

static char *
choices_list(const char *const *choices)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; choices[i]; i++)
		appendStringInfo(&buf, "%s\"%s\"", i ? ", " : "", choices[i]);
	return buf.data;
}

/*
 * Parse a duration: a bare number means seconds (as libpq's connect_timeout),
 * anything else goes through PostgreSQL's own unit parser ('500ms', '2min').
 */
static bool
parse_duration_ms(const char *value, int *ms, const char **hint)
{
	int			v;

	*hint = NULL;
	if (value[0] != '\0' && strspn(value, "0123456789") == strlen(value))
	{
		if (!parse_int(value, &v, 0, hint) || v > INT_MAX / 1000)
			return false;
		*ms = v * 1000;
		return true;
	}
	return parse_int(value, ms, GUC_UNIT_MS, hint);
}

static bool
parse_bytes(const char *value, int64 *bytes, const char **hint)
{
	int			kb;

	*hint = NULL;
	if (value[0] != '\0' && strspn(value, "0123456789") == strlen(value))
	{
		int			v;

		if (!parse_int(value, &v, 0, hint))
			return false;
		*bytes = v;
		return true;
	}
	if (!parse_int(value, &kb, GUC_UNIT_KB, hint))
		return false;
	*bytes = (int64) kb * 1024;
	return true;
}

/* A rate as requests per second: a number, optionally "/s", "/min" or "/h". */
static bool
parse_rate(const char *value, double *per_sec)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(value, &end);
	if (errno != 0 || end == value || !(v > 0) || isinf(v))
		return false;
	if (*end == '\0' || strcmp(end, "/s") == 0)
		*per_sec = v;
	else if (strcmp(end, "/min") == 0)
		*per_sec = v / 60.0;
	else if (strcmp(end, "/h") == 0)
		*per_sec = v / 3600.0;
	else
		return false;
	return true;
}

static bool
json_path_is_valid(const char *path)
{
	const char *p = path;

	if (strcmp(path, "$") == 0)
		return true;
	if (*p == '\0')
		return false;
	for (;;)
	{
		const char *dot = strchr(p, '.');
		size_t		seglen = dot ? (size_t) (dot - p) : strlen(p);

		if (seglen == 0)
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

static void
invalid_value(const char *name, const char *value, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
			 errdetail("%s", expected)));
}

static void
check_value(const ScalerOption *opt, DefElem *def)
{
	char	   *value = defGetString(def);
	const char *hint;

	switch (opt->kind)
	{
		case OPT_JSON:
			break;
		case OPT_TEXT:
			/* Values end up in HTTP headers: no room for header injection. */
			for (const char *c = value; *c; c++)
				if ((unsigned char) *c < 0x20 || *c == 0x7f)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": control characters are not allowed",
									opt->name)));
			break;
		case OPT_URL:
		case OPT_ENDPOINT:
			{
				char	   *scheme = NULL;
				bool		absolute = strstr(value, "://") != NULL;

				if (opt->kind == OPT_ENDPOINT && !absolute)
				{
					if (value[0] == '\0' || strpbrk(value, " \t\r\n") != NULL)
						invalid_value(opt->name, value,
									  "Expected a path relative to the server's base_url, such as \"/meters\", or an absolute http or https URL.");
					break;
				}
				if (!scaler_url_is_http(value, &scheme))
				{
					if (scheme != NULL)
						ereport(ERROR,
								(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
								 errmsg("invalid value for option \"%s\": URL scheme \"%s\" is not supported",
										opt->name, scheme),
								 errhint("Only http and https URLs are allowed.")));
					invalid_value(opt->name, value,
								  "Expected an absolute http or https URL, such as \"https://api.example.com/v1\".");
				}
				scaler_check_url_allowed(value);
				break;
			}
		case OPT_JSON_PATH:
			if (!json_path_is_valid(value))
				invalid_value(opt->name, value,
							  "Expected \"$\" for the whole document or dot-separated keys such as \"data.items\".");
			break;
		case OPT_DURATION:
			{
				int			ms;

				if (!parse_duration_ms(value, &ms, &hint) || ms <= 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, value),
							 errdetail("Expected a positive number of seconds, or a duration with a unit such as \"500ms\" or \"2min\"."),
							 hint ? errhint("%s", hint) : 0));
				break;
			}
		case OPT_BYTES:
			{
				int64		bytes;

				if (!parse_bytes(value, &bytes, &hint) || bytes <= 0 ||
					bytes > (int64) MaxAllocHugeSize / 2)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, value),
							 errdetail("Expected a positive size in bytes, or with a unit such as \"64MB\", at most 1GB."),
							 hint ? errhint("%s", hint) : 0));
				break;
			}
		case OPT_INT:
			{
				int			v;

				if (!parse_int(value, &v, 0, &hint) || v < 0)
					invalid_value(opt->name, value, "Expected a non-negative integer.");
				if (strcmp(opt->name, "max_concurrency") == 0 && (v < 1 || v > MAX_CONCURRENCY))
					invalid_value(opt->name, value,
								  psprintf("Expected a number of requests from 1 to %d.", MAX_CONCURRENCY));
				break;
			}
		case OPT_BOOL:
			{
				bool		b;

				if (!parse_bool(value, &b))
					invalid_value(opt->name, value, "Expected a boolean: true or false.");
				if (strcmp(opt->name, "ssl_verify") == 0 && !b && !superuser())
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("permission denied to set option \"ssl_verify\" to false"),
							 errdetail("Turning off TLS certificate verification exposes credentials to anyone on the network path."),
							 errhint("Ask a superuser, or point option \"ca_file\" at the provider's CA certificate.")));
				break;
			}
		case OPT_ENUM:
			{
				bool		found = false;

				for (int i = 0; opt->choices[i]; i++)
					if (strcmp(opt->choices[i], value) == 0)
						found = true;
				if (!found)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, value),
							 errdetail("Valid values are %s.", choices_list(opt->choices))));
				break;
			}
		case OPT_HEADER_NAME:
			/* RFC 9110 token characters only: no room for header injection. */
			if (value[0] == '\0' ||
				strspn(value, "!#$%&'*+-.^_`|~0123456789"
					   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(value))
				invalid_value(opt->name, value,
							  "Expected an HTTP header or query parameter name: letters, digits and !#$%&'*+-.^_`|~ only.");
			break;
		case OPT_ABS_PATH:
			if (!is_absolute_path(value))
				invalid_value(opt->name, value, "Expected an absolute file name.");
			break;
		case OPT_RATE:
			{
				double		r;

				if (!parse_rate(value, &r))
					invalid_value(opt->name, value,
								  "Expected requests per second as a positive number, optionally with \"/s\", \"/min\" or \"/h\", such as \"5\" or \"60/min\".");
				break;
			}
	}
}

Datum
scaler_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	bool		have_base_url = false;
	bool		have_endpoint = false;
	bool		have_table = false;
	char	   *provider = NULL;
	char	   *profile = NULL;
	char	   *override = NULL;
	char	   *environment = NULL;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const ScalerOption *opt = find_option(def->defname);

		if (opt == NULL || opt->context != catalog)
		{
			if (opt != NULL && opt->secret)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is a credential and is accepted only in a user mapping",
								def->defname),
						 errdetail("Options of a %s are visible to every role that can use it.",
								   context_name(catalog)),
						 errhint("Use CREATE USER MAPPING ... SERVER ... OPTIONS (%s '...').",
								 def->defname)));
			if (opt != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid option \"%s\" for a %s", def->defname,
								context_name(catalog)),
						 errhint("Option \"%s\" belongs to a %s.", opt->name,
								 context_name(opt->context))));
			else
			{
				const char *closest = closest_option(def->defname, catalog);

				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid option \"%s\"", def->defname),
						 closest ? errhint("Perhaps you meant the option \"%s\".", closest)
						 : errhint("There are no valid options in this context that look like it.")));
			}
		}
		check_value(opt, def);
		if (strcmp(opt->name, "base_url") == 0)
			have_base_url = true;
		else if (strcmp(opt->name, "endpoint") == 0)
			have_endpoint = true;
		else if (strcmp(opt->name, "table") == 0)
			have_table = true;
		else if (strcmp(opt->name, "provider") == 0)
			provider = defGetString(def);
		else if (strcmp(opt->name, "profile") == 0)
			profile = defGetString(def);
		else if (strcmp(opt->name, "profile_override") == 0)
			override = defGetString(def);
		else if (strcmp(opt->name, "environment") == 0)
			environment = defGetString(def);
		else if (strcmp(opt->name, "profile_vars") == 0)
		{
			List	   *n,
					   *v;

			scaler_parse_profile_vars(defGetString(def), &n, &v);
		}
	}

	if (catalog == ForeignServerRelationId)
	{
		ScalerProfile *compiled;

		if (provider && profile)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("options \"provider\" and \"profile\" cannot be used together"),
					 errhint("Use \"provider\" with \"profile_override\" to change parts of a built-in profile.")));
		if (override && !provider && !profile)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("option \"profile_override\" needs option \"provider\" or \"profile\"")));
		if (environment && have_base_url)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("options \"environment\" and \"base_url\" cannot be used together"),
					 errhint("\"environment\" chooses one of the profile's base URLs; \"base_url\" names one itself.")));
		if (environment && !provider && !profile)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("option \"environment\" needs option \"provider\" or \"profile\"")));
		/* Compiling validates: errors name the JSON path inside the profile. */
		compiled = scaler_profile_load(provider, profile, override, environment);
		if (!have_base_url && !environment && compiled && compiled->base_url == NULL &&
			compiled->environments != NIL)
		{
			StringInfoData names;

			initStringInfo(&names);
			foreach(lc, compiled->environments)
				appendStringInfo(&names, "%s\"%s\"", names.len ? ", " : "", (char *) lfirst(lc));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("option \"environment\" or \"base_url\" is required for a server of provider profile \"%s\"",
							compiled->name),
					 errdetail("Its environments are %s.", names.data),
					 errhint("Add OPTIONS (environment '%s'); ALTER SERVER switches it later.",
							 (char *) linitial(compiled->environments))));
		}
		if (!have_base_url && (compiled == NULL || compiled->base_url == NULL))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("option \"base_url\" is required for a scaler_fdw server"),
					 compiled ? errdetail("Provider profile \"%s\" names no base URL.", compiled->name) : 0,
					 errhint("Add OPTIONS (base_url 'https://api.example.com/v1').")));
		if (compiled && compiled->base_url)
			scaler_check_url_allowed(compiled->base_url);
	}
	if (catalog == ForeignTableRelationId && have_endpoint == have_table)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 have_table ? errmsg("options \"endpoint\" and \"table\" cannot be used together")
				 : errmsg("option \"endpoint\" or \"table\" is required for a scaler_fdw foreign table"),
				 errhint("Use OPTIONS (table 'consumption') for a table of the server's provider profile, or OPTIONS (endpoint '/meters') for any JSON endpoint.")));

	PG_RETURN_VOID();
}

static int
duration_option(DefElem *def)
{
	int			ms;
	const char *hint;

	if (!parse_duration_ms(defGetString(def), &ms, &hint))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("option \"%s\" was not validated", def->defname)));
	return ms;
}

static int
enum_option(DefElem *def, const char *const *choices)
{
	const char *value = defGetString(def);

	for (int i = 0; choices[i]; i++)
		if (strcmp(choices[i], value) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg_internal("option \"%s\" was not validated", def->defname)));
	return 0;					/* keep compiler quiet */
}

static const char *
auth_kind_name(ScalerAuthKind kind)
{
	static const char *const names[] = {"none", "basic", "bearer", "api_key", "oauth2", "login"};

	return names[kind];
}

static void
require_credential(const ScalerServerOptions *opts, const char *value, const char *optname)
{
	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for server \"%s\" has no option \"%s\"",
						opts->servername, optname),
				 errdetail("The server authenticates with \"%s\".", auth_kind_name(opts->auth)),
				 errhint("ALTER USER MAPPING FOR ... SERVER %s OPTIONS (ADD %s '...').",
						 quote_identifier(opts->servername), optname)));
}

/*
 * Read the server's options, its provider profile, and, where the server
 * authenticates, the credentials of the user mapping for userid (none if
 * userid is invalid).  Server options win over the profile.
 */
void
scaler_get_server_options(Oid serverid, Oid userid, ScalerServerOptions *opts)
{
	ForeignServer *server = GetForeignServer(serverid);
	ListCell   *lc;
	char	   *provider = NULL;
	char	   *profile = NULL;
	char	   *override = NULL;
	char	   *environment = NULL;
	ScalerProfile *p;
	UserMapping *um;

	memset(opts, 0, sizeof(*opts));
	opts->serverid = serverid;
	opts->servername = server->servername;
	opts->auth = SCALER_AUTH_NONE;
	opts->api_key_name = "X-API-Key";
	opts->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	opts->request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
	opts->max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES;
	opts->ssl_verify = true;
	opts->max_retries = DEFAULT_MAX_RETRIES;
	opts->max_retry_wait_ms = DEFAULT_MAX_RETRY_WAIT_MS;
	opts->max_concurrency = DEFAULT_MAX_CONCURRENCY;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "provider") == 0)
			provider = defGetString(def);
		else if (strcmp(def->defname, "profile") == 0)
			profile = defGetString(def);
		else if (strcmp(def->defname, "profile_override") == 0)
			override = defGetString(def);
		else if (strcmp(def->defname, "environment") == 0)
			environment = defGetString(def);
	}
	p = opts->profile = scaler_profile_load(provider, profile, override, environment);
	if (p)
	{
		opts->base_url = p->base_url;
		opts->auth = (ScalerAuthKind) p->auth;
		if (p->api_key_name)
			opts->api_key_name = p->api_key_name;
		opts->api_key_in_query = p->api_key_in_query;
		opts->rate_per_sec = p->rate_per_sec;
		opts->rate_burst = p->rate_burst;
		opts->daily_limit = p->daily_limit;
	}

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *name = def->defname;

		if (strcmp(name, "base_url") == 0)
			opts->base_url = defGetString(def);
		else if (strcmp(name, "auth") == 0)
			opts->auth = (ScalerAuthKind) enum_option(def, auth_choices);
		else if (strcmp(name, "api_key_name") == 0)
			opts->api_key_name = defGetString(def);
		else if (strcmp(name, "api_key_in") == 0)
			opts->api_key_in_query = enum_option(def, api_key_in_choices) == 1;
		else if (strcmp(name, "connect_timeout") == 0)
			opts->connect_timeout_ms = duration_option(def);
		else if (strcmp(name, "request_timeout") == 0)
			opts->request_timeout_ms = duration_option(def);
		else if (strcmp(name, "max_response_size") == 0)
		{
			const char *hint;

			(void) parse_bytes(defGetString(def), &opts->max_response_bytes, &hint);
		}
		else if (strcmp(name, "ssl_verify") == 0)
			opts->ssl_verify = defGetBoolean(def);
		else if (strcmp(name, "ca_file") == 0)
			opts->ca_file = defGetString(def);
		else if (strcmp(name, "max_retries") == 0)
			opts->max_retries = pg_strtoint32(defGetString(def));
		else if (strcmp(name, "max_retry_wait") == 0)
			opts->max_retry_wait_ms = duration_option(def);
		else if (strcmp(name, "max_concurrency") == 0)
			opts->max_concurrency = Max(1, pg_strtoint32(defGetString(def)));
		else if (strcmp(name, "on_conversion_error") == 0)
			opts->null_on_conversion_error = enum_option(def, conversion_error_choices) == 1;
		else if (strcmp(name, "rate_limit") == 0)
			(void) parse_rate(defGetString(def), &opts->rate_per_sec);
		else if (strcmp(name, "rate_burst") == 0)
			opts->rate_burst = pg_strtoint32(defGetString(def));
		else if (strcmp(name, "daily_limit") == 0)
			opts->daily_limit = pg_strtoint32(defGetString(def));
		else if (strcmp(name, "profile_vars") == 0)
			scaler_parse_profile_vars(defGetString(def), &opts->var_names, &opts->var_values);
	}
	/* By default a bucket holds one second's worth of requests, at least one. */
	if (opts->rate_burst <= 0)
		opts->rate_burst = Max(1, (int) ceil(opts->rate_per_sec));

	if (opts->base_url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no option \"base_url\"", opts->servername)));

	if (opts->auth == SCALER_AUTH_NONE || !OidIsValid(userid))
		return;
	opts->userid = userid;

	if (!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
							   ObjectIdGetDatum(serverid)) &&
		!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							   ObjectIdGetDatum(serverid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("user mapping not found for user \"%s\" and server \"%s\"",
						GetUserNameFromId(userid, false), opts->servername),
				 errdetail("The server authenticates with \"%s\"; the credentials come from a user mapping.",
						   auth_kind_name(opts->auth)),
				 errhint("CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (...).",
						 quote_identifier(opts->servername))));

	um = GetUserMapping(userid, serverid);
	opts->umid = um->umid;
	foreach(lc, um->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "username") == 0)
			opts->username = defGetString(def);
		else if (strcmp(def->defname, "password") == 0)
			opts->password = defGetString(def);
		else if (strcmp(def->defname, "token") == 0)
			opts->token = defGetString(def);
		else if (strcmp(def->defname, "api_key") == 0)
			opts->api_key = defGetString(def);
		else if (strcmp(def->defname, "client_id") == 0)
			opts->client_id = defGetString(def);
		else if (strcmp(def->defname, "client_secret") == 0)
			opts->client_secret = defGetString(def);
	}

	switch (opts->auth)
	{
		case SCALER_AUTH_NONE:
			break;
		case SCALER_AUTH_BASIC:
			/* A key sent as the username with an empty password is common. */
			if (opts->username == NULL && opts->api_key != NULL)
				opts->username = opts->api_key;
			require_credential(opts, opts->username, "username");
			if (opts->password == NULL)
				opts->password = "";
			break;
		case SCALER_AUTH_BEARER:
			require_credential(opts, opts->token, "token");
			break;
		case SCALER_AUTH_API_KEY:
			require_credential(opts, opts->api_key, "api_key");
			break;
		case SCALER_AUTH_OAUTH2:
			if (strcmp(p->oauth_grant, "password") == 0)
			{
				require_credential(opts, opts->username, "username");
				require_credential(opts, opts->password, "password");
			}
			else
			{
				require_credential(opts, opts->client_id, "client_id");
				require_credential(opts, opts->client_secret, "client_secret");
			}
			break;
		case SCALER_AUTH_LOGIN:
			require_credential(opts, opts->username, "username");
			require_credential(opts, opts->password, "password");
			break;
	}
}

/*
 * The table a foreign table reads: a table of the server's profile (option
 * "table"), or one described by the foreign table's own options.
 */
ScalerTableSpec *
scaler_get_table_spec(Oid relid, const ScalerServerOptions *srv)
{
	ForeignTable *table = GetForeignTable(relid);
	ScalerTableSpec *spec = NULL;
	char	   *profile_table = NULL;
	ListCell   *lc;

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "table") == 0)
			profile_table = defGetString(def);
	}

	if (profile_table)
	{
		if (srv->profile == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" names profile table \"%s\", but server \"%s\" has no provider profile",
							get_rel_name(relid), profile_table, srv->servername),
					 errhint("Give the server OPTIONS (provider '...') or (profile '...'), or give the table an \"endpoint\".")));
		/* A copy: the table's own options below may change it. */
		spec = palloc(sizeof(ScalerTableSpec));
		memcpy(spec, scaler_profile_table(srv->profile, profile_table, false), sizeof(ScalerTableSpec));
	}
	else
	{
		spec = palloc0(sizeof(ScalerTableSpec));
		spec->name = get_rel_name(relid);
		spec->method = "GET";
		spec->records_text = "$";
		spec->pagination.kind = PAGINATE_NONE;
		spec->pagination.next_path = "next";
		spec->rows_estimate = DEFAULT_ESTIMATED_ROWS;
	}

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *name = def->defname;

		if (strcmp(name, "endpoint") == 0)
			spec->path = defGetString(def);
		else if (strcmp(name, "records_path") == 0)
			spec->records_text = defGetString(def);
		else if (strcmp(name, "pagination") == 0)
		{
			static const PaginationKind kinds[] = {PAGINATE_NONE, PAGINATE_NEXT_URL, PAGINATE_LINK_HEADER};

			spec->pagination.kind = kinds[enum_option(def, pagination_choices)];
			if (spec->pagination.next_path == NULL)
				spec->pagination.next_path = "next";
		}
		else if (strcmp(name, "next_url_path") == 0)
			spec->pagination.next_path = defGetString(def);
		else if (strcmp(name, "max_pages") == 0)
			spec->pagination.max_pages = pg_strtoint32(defGetString(def));
		else if (strcmp(name, "estimated_rows") == 0)
			spec->rows_estimate = pg_strtoint32(defGetString(def));
		else if (strcmp(name, "format") == 0)
			spec->xml = enum_option(def, format_choices) == 1;
	}
	spec->records = scaler_parse_path(spec->records_text, "option \"records_path\"", true);
	return spec;
}

/* A column option's value, or NULL. */
char *
scaler_get_column_option(Oid relid, AttrNumber attnum, const char *name)
{
	ListCell   *lc;

	foreach(lc, GetForeignColumnOptions(relid, attnum))
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}
