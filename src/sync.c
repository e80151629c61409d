/*-------------------------------------------------------------------------
 *
 * sync.c
 *		  The C side of sync to Scaler: the sink POST, live progress in
 *		  shared memory, and the delivery background worker.
 *
 * Staging and the outbox rules are SQL (scaler_fdw--*.sql, docs/sync.md):
 * they are set operations over tables, and one transaction covers the
 * outbox rows and the watermarks they advance.  What SQL cannot do lives
 * here: sending a batch over HTTP with the engine's limits and retries,
 * progress other sessions can watch while a pass runs, and a process that
 * drains the outbox in its own transactions, one batch per transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/numeric.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

PG_FUNCTION_INFO_V1(scaler_sink_post);
PG_FUNCTION_INFO_V1(scaler_sink_item);
PG_FUNCTION_INFO_V1(scaler_reading_hash);
PG_FUNCTION_INFO_V1(scaler_progress_report);
PG_FUNCTION_INFO_V1(scaler_sync_progress);

PGDLLEXPORT void scaler_delivery_worker_main(Datum main_arg);

char	   *scaler_sync_database = NULL;
char	   *scaler_sync_role = NULL;
int			scaler_delivery_workers = 1;
int			scaler_delivery_naptime_ms = 1000;
int			scaler_sync_run_retention = 1000;

/* Batches one worker pass sends before it looks at its signals again. */
#define BATCHES_PER_PASS 100
/* Batches formed per transaction: claims stay short. */
#define BATCHES_PER_FORM 10

/* ---------- the sink POST ---------- */

/*
 * POST one batch body to the sink server's base_url + path with its
 * Idempotency-Key, with the server's credentials, limits, rate budget and
 * retries.  Returns the final status and body; a transport failure after the
 * last retry is an ERROR (the caller records it as an attempt).
 */
Datum
scaler_sink_post(PG_FUNCTION_ARGS)
{
	char	   *server_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	text	   *body = PG_GETARG_TEXT_PP(2);
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(3));
	ForeignServer *server = GetForeignServerByName(server_name, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	ScalerServerOptions opts;
	ScalerRequest req;
	ScalerHttpResponse resp;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	instr_time	start,
				elapsed;

	if (strcmp(fdw->fdwname, "scaler_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("sink server \"%s\" is not a scaler_fdw server", server_name),
				 errdetail("It uses foreign-data wrapper \"%s\".", fdw->fdwname)));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));

	scaler_get_server_options(server->serverid, GetUserId(), &opts);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = scaler_join_url(opts.base_url, path);
	req.body = text_to_cstring(body);
	req.content_type = "application/json";
	req.api_auth = true;
	req.header_names = list_make1(pstrdup("Idempotency-Key"));
	req.header_values = list_make1(key);

	scaler_http_init_response(&resp, CurrentMemoryContext, opts.max_response_bytes);
	INSTR_TIME_SET_CURRENT(start);
	scaler_http_request(&opts, &req, &resp, NULL);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);

	values[0] = Int32GetDatum((int32) resp.status);
	values[1] = CStringGetTextDatum(scaler_redact(&opts, resp.body.data));
	values[2] = Int32GetDatum(resp.attempts);
	values[3] = Float8GetDatum(INSTR_TIME_GET_MILLISEC(elapsed));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * One reading of a batch body, in the sink contract's JSON (docs/sync.md):
 * timestamps in UTC as "+00:00", the value as an exact JSON number.  C
 * because a body is built for every reading sent, and json_build_object
 * costs several times more per reading than the sink itself.
 */
Datum
scaler_sink_item(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	char		ts[MAXDATELEN + 1];
	const int	utc = 0;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"meter_id\": ");
	escape_json(&buf, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	appendStringInfo(&buf, ", \"period_start\": \"%s\"",
					 JsonEncodeDateTime(ts, PG_GETARG_DATUM(1), TIMESTAMPTZOID, &utc));
	appendStringInfo(&buf, ", \"period_end\": \"%s\"",
					 JsonEncodeDateTime(ts, PG_GETARG_DATUM(2), TIMESTAMPTZOID, &utc));
	appendStringInfo(&buf, ", \"value\": %s, \"unit\": ",
					 DatumGetCString(DirectFunctionCall1(numeric_out, PG_GETARG_DATUM(3))));
	escape_json(&buf, text_to_cstring(PG_GETARG_TEXT_PP(4)));
	appendStringInfo(&buf, ", \"estimated\": %s, \"source\": {\"provider_server\": ",
					 PG_GETARG_BOOL(5) ? "true" : "false");
	escape_json(&buf, text_to_cstring(PG_GETARG_TEXT_PP(6)));
	appendStringInfoString(&buf, ", \"external_meter_id\": ");
	escape_json(&buf, text_to_cstring(PG_GETARG_TEXT_PP(7)));
	appendStringInfo(&buf, ", \"mapping_id\": " INT64_FORMAT ", \"revision\": %d, \"readings\": %d}, \"hash\": ",
					 PG_GETARG_INT64(8), PG_GETARG_INT32(9), PG_GETARG_INT32(10));
	escape_json(&buf, text_to_cstring(PG_GETARG_TEXT_PP(11)));
	appendStringInfoChar(&buf, '}');
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/*
 * The content hash of a staged reading: SHA-256 over its Scaler meter, UTC
 * period, value without trailing zeros, unit and estimated flag, so the same
 * reading hashes the same whatever the session's settings or the provider's
 * decimal places.  Staging compares it to find what changed.
 */
Datum
scaler_reading_hash(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	char		ts[MAXDATELEN + 1];
	const int	utc = 0;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[PG_SHA256_DIGEST_LENGTH * 2];
	pg_cryptohash_ctx *ctx;
	Datum		trimmed = DirectFunctionCall1(numeric_trim_scale, PG_GETARG_DATUM(3));

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(PG_GETARG_TEXT_PP(0)), VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)));
	appendStringInfo(&buf, "|%s", JsonEncodeDateTime(ts, PG_GETARG_DATUM(1), TIMESTAMPTZOID, &utc));
	appendStringInfo(&buf, "|%s", JsonEncodeDateTime(ts, PG_GETARG_DATUM(2), TIMESTAMPTZOID, &utc));
	appendStringInfo(&buf, "|%s|", DatumGetCString(DirectFunctionCall1(numeric_out, trimmed)));
	appendBinaryStringInfo(&buf, VARDATA_ANY(PG_GETARG_TEXT_PP(4)), VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(4)));
	appendStringInfoString(&buf, PG_GETARG_BOOL(5) ? "|t" : "|f");

	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) buf.data, buf.len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the SHA-256 of a reading: %s", pg_cryptohash_error(ctx))));
	pg_cryptohash_free(ctx);
	hex_encode((const char *) digest, sizeof(digest), hex);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(hex, sizeof(hex)));
}

/* ---------- live progress ---------- */

/*
 * One slot per session that reports: a sync pass or a delivery worker.  A
 * slot belongs to its transaction (sync() runs in one) and is released at
 * its end, commit or abort, so a failed pass never looks alive.
 */
typedef struct SyncProgress
{
	int			pid;			/* 0: free */
	Oid			datid;
	char		server[NAMEDATALEN];
	char		phase[32];
	TimestampTz started_at;
	int32		meters_total;
	int32		meters_done;
	int64		fetched;
	int64		staged;
	int64		delivered;
	int64		failed;
} SyncProgress;

typedef struct SyncProgressShared
{
	LWLock	   *lock;
	int			nslots;
	SyncProgress slots[FLEXIBLE_ARRAY_MEMBER];
} SyncProgressShared;

static SyncProgressShared *progress = NULL;
static int	my_slot = -1;
static bool xact_callback_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static int
progress_slots(void)
{
	/* every session could run a pass at once; workers come on top */
	return MaxConnections + scaler_delivery_workers + 8;
}

static Size
progress_size(void)
{
	return add_size(offsetof(SyncProgressShared, slots),
					mul_size(progress_slots(), sizeof(SyncProgress)));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(progress_size());
	RequestNamedLWLockTranche("scaler_fdw_sync_progress", 1);
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	progress = ShmemInitStruct("scaler_fdw sync progress", progress_size(), &found);
	if (!found)
	{
		memset(progress, 0, progress_size());
		progress->lock = &(GetNamedLWLockTranche("scaler_fdw_sync_progress"))->lock;
		progress->nslots = progress_slots();
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
progress_release(void)
{
	if (progress == NULL || my_slot < 0)
		return;
	LWLockAcquire(progress->lock, LW_EXCLUSIVE);
	if (progress->slots[my_slot].pid == MyProcPid)
		progress->slots[my_slot].pid = 0;
	LWLockRelease(progress->lock);
	my_slot = -1;
}

static void
progress_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		progress_release();
}

static void
progress_exit(int code, Datum arg)
{
	progress_release();
}

/*
 * progress_report(server, phase, meters_total, meters_done, fetched, staged,
 * delivered, failed): NULL arguments keep their value; a NULL phase ends the
 * report.  Without scaler_fdw in shared_preload_libraries it does nothing.
 */
Datum
scaler_progress_report(PG_FUNCTION_ARGS)
{
	SyncProgress *s;

	if (progress == NULL)
		PG_RETURN_VOID();
	if (PG_ARGISNULL(1))
	{
		progress_release();
		PG_RETURN_VOID();
	}
	if (!xact_callback_registered)
	{
		RegisterXactCallback(progress_xact_callback, NULL);
		before_shmem_exit(progress_exit, (Datum) 0);
		xact_callback_registered = true;
	}

	LWLockAcquire(progress->lock, LW_EXCLUSIVE);
	if (my_slot < 0 || progress->slots[my_slot].pid != MyProcPid)
	{
		int			i;

		my_slot = -1;
		for (i = 0; i < progress->nslots; i++)
		{
			if (progress->slots[i].pid == 0)
			{
				my_slot = i;
				memset(&progress->slots[i], 0, sizeof(SyncProgress));
				progress->slots[i].pid = MyProcPid;
				progress->slots[i].datid = MyDatabaseId;
				progress->slots[i].started_at = GetCurrentTimestamp();
				break;
			}
		}
		if (my_slot < 0)
		{
			LWLockRelease(progress->lock);
			PG_RETURN_VOID();	/* full: this pass goes unwatched */
		}
	}
	s = &progress->slots[my_slot];
	if (!PG_ARGISNULL(0))
		text_to_cstring_buffer(PG_GETARG_TEXT_PP(0), s->server, sizeof(s->server));
	text_to_cstring_buffer(PG_GETARG_TEXT_PP(1), s->phase, sizeof(s->phase));
	if (!PG_ARGISNULL(2))
		s->meters_total = PG_GETARG_INT32(2);
	if (!PG_ARGISNULL(3))
		s->meters_done = PG_GETARG_INT32(3);
	if (!PG_ARGISNULL(4))
		s->fetched = PG_GETARG_INT64(4);
	if (!PG_ARGISNULL(5))
		s->staged = PG_GETARG_INT64(5);
	if (!PG_ARGISNULL(6))
		s->delivered = PG_GETARG_INT64(6);
	if (!PG_ARGISNULL(7))
		s->failed = PG_GETARG_INT64(7);
	LWLockRelease(progress->lock);
	PG_RETURN_VOID();
}

/* Rows of scaler.sync_progress: a snapshot of the slots in use. */
Datum
scaler_sync_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (progress == NULL)
		return (Datum) 0;

	LWLockAcquire(progress->lock, LW_SHARED);
	for (i = 0; i < progress->nslots; i++)
	{
		SyncProgress *s = &progress->slots[i];
		Datum		values[11];
		bool		nulls[11];

		if (s->pid == 0)
			continue;
		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(s->pid);
		values[1] = ObjectIdGetDatum(s->datid);
		values[2] = CStringGetTextDatum(s->server);
		nulls[2] = s->server[0] == '\0';
		values[3] = CStringGetTextDatum(s->phase);
		values[4] = TimestampTzGetDatum(s->started_at);
		values[5] = Int32GetDatum(s->meters_total);
		values[6] = Int32GetDatum(s->meters_done);
		values[7] = Int64GetDatum(s->fetched);
		values[8] = Int64GetDatum(s->staged);
		values[9] = Int64GetDatum(s->delivered);
		values[10] = Int64GetDatum(s->failed);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(progress->lock);
	return (Datum) 0;
}

/* ---------- the delivery worker ---------- */

/*
 * Runs one SQL statement in its own transaction, with $1 = *due_by when
 * given, and returns the first column of its first row as text (NULL when
 * none).  The worker's state in pg_stat_activity is the statement while it
 * runs.
 */
static char *
worker_run(const char *sql, const TimestampTz *due_by)
{
	char	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, sql);

	if (due_by != NULL)
	{
		Oid			argtype = TIMESTAMPTZOID;
		Datum		arg = TimestampTzGetDatum(*due_by);

		if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, false, 1) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("scaler_fdw delivery worker could not run \"%s\"", sql)));
	}
	else if (SPI_execute(sql, false, 1) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("scaler_fdw delivery worker could not run \"%s\"", sql)));
	if (SPI_processed > 0)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v != NULL)
			result = MemoryContextStrdup(caller, v);
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(caller);
	return result;
}

/* The schema scaler_fdw is installed in, quoted, or NULL when it is not. */
static char *
worker_extension_schema(void)
{
	return worker_run("SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e "
					  "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
					  "WHERE e.extname = 'scaler_fdw'", NULL);
}

void
scaler_delivery_worker_main(Datum main_arg)
{
	int			worker = DatumGetInt32(main_arg);
	bool		warned_missing = false;
	MemoryContext pass_cxt;
	char	   *form_sql = NULL;
	char	   *send_sql = NULL;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(scaler_sync_database,
										 scaler_sync_role[0] ? scaler_sync_role : NULL, 0);
	pgstat_report_appname(psprintf("scaler_fdw delivery worker %d", worker));
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "scaler_fdw delivery pass",
									 ALLOCSET_DEFAULT_SIZES);
	ereport(LOG,
			(errmsg("scaler_fdw delivery worker %d started in database \"%s\"",
					worker, scaler_sync_database)));

	for (;;)
	{
		bool		busy = false;

		MemoryContextSwitchTo(pass_cxt);
		MemoryContextReset(pass_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (form_sql == NULL)
		{
			char	   *nsp = worker_extension_schema();

			if (nsp != NULL)
			{
				MemoryContextSwitchTo(TopMemoryContext);
				form_sql = psprintf("SELECT %s.sync_form_batches(NULL, %d)", nsp, BATCHES_PER_FORM);
				send_sql = psprintf("SELECT (b).batch_id FROM %s.sync_send_batch(NULL, $1) b", nsp);
				MemoryContextSwitchTo(pass_cxt);
			}
			else if (!warned_missing)
			{
				ereport(LOG,
						(errmsg("scaler_fdw delivery worker %d waits for CREATE EXTENSION scaler_fdw in database \"%s\"",
								worker, scaler_sync_database)));
				warned_missing = true;
			}
		}

		if (form_sql != NULL)
		{
			/* each due batch is tried once a pass, however short its backoff */
			TimestampTz pass_start = GetCurrentTimestamp();
			char	   *formed = worker_run(form_sql, NULL);
			int			sent;

			busy = formed != NULL && strcmp(formed, "0") != 0;
			for (sent = 0; sent < BATCHES_PER_PASS; sent++)
			{
				CHECK_FOR_INTERRUPTS();
				if (worker_run(send_sql, &pass_start) == NULL)
					break;
				busy = true;
			}
		}

		if (!busy)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 scaler_delivery_naptime_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}

/* ---------- registration, from _PG_init ---------- */

void
scaler_sync_define_gucs(void)
{
	DefineCustomIntVariable("scaler_fdw.delivery_naptime",
							"How long an idle delivery worker sleeps before it looks at the outbox again.",
							NULL,
							&scaler_delivery_naptime_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("scaler_fdw.sync_run_retention",
							"Sync runs kept per provider server in scaler.sync_run.",
							NULL,
							&scaler_sync_run_retention, 1000, 1, 1000000, PGC_SUSET, 0,
							NULL, NULL, NULL);

	/* Settings of the postmaster can only be defined while it preloads us. */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomStringVariable("scaler_fdw.sync_database",
							   "Database whose outbox the delivery workers drain.",
							   "Empty starts no delivery worker.",
							   &scaler_sync_database, "", PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("scaler_fdw.sync_role",
							   "Role the delivery workers connect as.",
							   "Its user mapping of the sink server is used; empty is the bootstrap superuser.",
							   &scaler_sync_role, "", PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("scaler_fdw.delivery_workers",
							"Number of delivery workers.",
							NULL,
							&scaler_delivery_workers, 1, 0, 32, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
}

/* Shared memory for progress and the workers: only while preloading. */
void
scaler_sync_preload(void)
{
	int			i;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;

	if (scaler_sync_database[0] == '\0')
		return;
	for (i = 0; i < scaler_delivery_workers; i++)
	{
		BackgroundWorker w;

		memset(&w, 0, sizeof(w));
		w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		w.bgw_start_time = BgWorkerStart_RecoveryFinished;
		w.bgw_restart_time = 10;
		snprintf(w.bgw_library_name, BGW_MAXLEN, "scaler_fdw");
		snprintf(w.bgw_function_name, BGW_MAXLEN, "scaler_delivery_worker_main");
		snprintf(w.bgw_name, BGW_MAXLEN, "scaler_fdw delivery worker %d", i + 1);
		snprintf(w.bgw_type, BGW_MAXLEN, "scaler_fdw delivery worker");
		w.bgw_main_arg = Int32GetDatum(i + 1);
		RegisterBackgroundWorker(&w);
	}
}
