/*-------------------------------------------------------------------------
 *
 * scaler_fdw.c
 *		  Module entry of scaler_fdw: library initialisation and the FDW
 *		  handler.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include <curl/curl.h>

#include "foreign/fdwapi.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(scaler_fdw_handler);

void		_PG_init(void);

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
}

Datum
scaler_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	scaler_fdw_routine_init(routine);
	PG_RETURN_POINTER(routine);
}
