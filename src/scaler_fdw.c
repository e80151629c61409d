/*-------------------------------------------------------------------------
 *
 * scaler_fdw.c
 *		  Module entry of scaler_fdw: library initialisation, GUCs, and the
 *		  FDW handler.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include <curl/curl.h>

#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/varlena.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(scaler_fdw_handler);

void		_PG_init(void);

char	   *scaler_allowed_hosts = NULL;

/* A comma-separated list of host names, IP addresses, "*.domain" or "*". */
static bool
check_allowed_hosts(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval);
	List	   *items;
	ListCell   *lc;

	if (!SplitGUCList(copy, ',', &items))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	foreach(lc, items)
	{
		const char *item = (const char *) lfirst(lc);
		const char *host = strncmp(item, "*.", 2) == 0 ? item + 2 : item;

		if (strcmp(item, "*") == 0)
			continue;
		if (host[0] == '\0' ||
			strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != strlen(host))
		{
			GUC_check_errdetail("\"%s\" is not a host name, an IP address, \"*.domain\" or \"*\".", item);
			return false;
		}
	}
	return true;
}

void
_PG_init(void)
{
	/*
	 * Once per process, before any handle exists; libcurl's global init is
	 * not thread-safe, and a backend is single-threaded.
	 */
	CURLcode	rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl: %s", curl_easy_strerror(rc))));

	DefineCustomStringVariable("scaler_fdw.allowed_hosts",
							   "Hosts that scaler_fdw servers may send requests to.",
							   "A comma-separated list of host names, IP addresses, \"*.domain\" "
							   "patterns, or \"*\". Empty allows every host.",
							   &scaler_allowed_hosts,
							   "",
							   PGC_SUSET,
							   0,
							   check_allowed_hosts, NULL, NULL);
	scaler_sync_define_gucs();
	MarkGUCPrefixReserved("scaler_fdw");

	if (process_shared_preload_libraries_in_progress)
	{
		scaler_rate_budget_install_hooks();
		scaler_sync_preload();
	}
}

Datum
scaler_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	scaler_fdw_routine_init(routine);
	PG_RETURN_POINTER(routine);
}
