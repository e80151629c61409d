/*-------------------------------------------------------------------------
 *
 * rate_budget.c
 *		  The request budget of each server: a token bucket (requests per
 *		  second with a burst), a daily cap, and pauses the provider asks for
 *		  (Retry-After, X-RateLimit-Reset).
 *
 * With scaler_fdw in shared_preload_libraries the budgets live in shared
 * memory, keyed by database and server, so every backend of the cluster
 * draws from the same bucket.  Otherwise each backend keeps its own, and
 * says so once with a NOTICE.
 *
 * A bucket's spinlock is held only for a few arithmetic steps; all waiting
 * happens outside it, on the process latch, so cancel ends it at once.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#define MAX_SHARED_BUDGETS	256

typedef struct RateBudgetKey
{
	Oid			dbid;
	Oid			serverid;
} RateBudgetKey;

typedef struct RateBudget
{
	RateBudgetKey key;
	slock_t		mutex;
	double		tokens;
	TimestampTz refilled_at;
	TimestampTz paused_until;	/* the provider asked us to wait until then */
	int32		day;			/* days since 2000-01-01 (UTC) of day_count */
	int64		day_count;
} RateBudget;

static HTAB *shared_budgets = NULL;
static LWLock *shared_budgets_lock = NULL;
static HTAB *local_budgets = NULL;
static bool warned_local = false;
static bool warned_full = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
rate_budget_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(hash_estimate_size(MAX_SHARED_BUDGETS, sizeof(RateBudget)));
	RequestNamedLWLockTranche("scaler_fdw_rate_budget", 1);
}

static void
rate_budget_shmem_startup(void)
{
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(RateBudgetKey);
	info.entrysize = sizeof(RateBudget);
	shared_budgets = ShmemInitHash("scaler_fdw rate budgets",
								   MAX_SHARED_BUDGETS, MAX_SHARED_BUDGETS,
								   &info, HASH_ELEM | HASH_BLOBS);
	shared_budgets_lock = &(GetNamedLWLockTranche("scaler_fdw_rate_budget"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init while shared_preload_libraries are loaded. */
void
scaler_rate_budget_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rate_budget_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rate_budget_shmem_startup;
}

static void
init_budget(RateBudget *b, const ScalerServerOptions *srv)
{
	SpinLockInit(&b->mutex);
	b->tokens = srv->rate_burst;
	b->refilled_at = GetCurrentTimestamp();
	b->paused_until = 0;
	b->day = 0;
	b->day_count = 0;
}

static RateBudget *
local_budget(const ScalerServerOptions *srv, const RateBudgetKey *key)
{
	RateBudget *b;
	bool		found;

	if (local_budgets == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(RateBudgetKey);
		info.entrysize = sizeof(RateBudget);
		info.hcxt = TopMemoryContext;
		local_budgets = hash_create("scaler_fdw local rate budgets", 16, &info,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	b = hash_search(local_budgets, key, HASH_ENTER, &found);
	if (!found)
		init_budget(b, srv);
	return b;
}

static RateBudget *
find_budget(const ScalerServerOptions *srv)
{
	RateBudgetKey key;
	RateBudget *b;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.serverid = srv->serverid;

	if (shared_budgets == NULL)
	{
		if (!warned_local && (srv->rate_per_sec > 0 || srv->daily_limit > 0))
		{
			ereport(NOTICE,
					(errcode(ERRCODE_WARNING),
					 errmsg("scaler_fdw is not in shared_preload_libraries: the request budget of server \"%s\" is enforced per backend",
							srv->servername),
					 errhint("Add scaler_fdw to shared_preload_libraries so that all backends share one budget per server.")));
			warned_local = true;
		}
		return local_budget(srv, &key);
	}

	LWLockAcquire(shared_budgets_lock, LW_SHARED);
	b = hash_search(shared_budgets, &key, HASH_FIND, NULL);
	LWLockRelease(shared_budgets_lock);
	if (b)
		return b;

	LWLockAcquire(shared_budgets_lock, LW_EXCLUSIVE);
	b = hash_search(shared_budgets, &key, HASH_ENTER_NULL, &found);
	if (b && !found)
		init_budget(b, srv);
	LWLockRelease(shared_budgets_lock);
	if (b)
		return b;

	if (!warned_full)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("scaler_fdw's shared rate budgets are full (%d servers): server \"%s\" is limited per backend",
						MAX_SHARED_BUDGETS, srv->servername)));
		warned_full = true;
	}
	return local_budget(srv, &key);
}

/* Sleep ms milliseconds on the latch: a cancel or terminate ends it at once. */
void
scaler_sleep_ms(long ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		left;

		CHECK_FOR_INTERRUPTS();
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Wait until the server's budget allows one more request, and take it.
 * A daily cap reached, or a provider pause longer than max_retry_wait, is an
 * ERROR rather than a silent wait of hours.
 */
void
scaler_rate_acquire(const ScalerServerOptions *srv)
{
	RateBudget *b = find_budget(srv);

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		int32		today = (int32) (now / USECS_PER_DAY);
		long		wait_ms = 0;
		bool		paused = false;
		bool		exhausted = false;

		SpinLockAcquire(&b->mutex);
		if (b->paused_until > now)
		{
			wait_ms = TimestampDifferenceMilliseconds(now, b->paused_until) + 1;
			paused = true;
		}
		else if (srv->daily_limit > 0 && b->day == today && b->day_count >= srv->daily_limit)
			exhausted = true;
		else
		{
			if (srv->rate_per_sec > 0)
			{
				double		elapsed = (double) (now - b->refilled_at) / USECS_PER_SEC;

				b->tokens = Min((double) srv->rate_burst,
								b->tokens + Max(elapsed, 0.0) * srv->rate_per_sec);
				b->refilled_at = now;
				if (b->tokens >= 1.0)
					b->tokens -= 1.0;
				else
					wait_ms = (long) ceil((1.0 - b->tokens) / srv->rate_per_sec * 1000.0);
			}
			if (wait_ms == 0 && srv->daily_limit > 0)
			{
				if (b->day != today)
				{
					b->day = today;
					b->day_count = 0;
				}
				b->day_count++;
			}
		}
		SpinLockRelease(&b->mutex);

		if (exhausted)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("server \"%s\" has used its daily request budget of " INT64_FORMAT " requests",
							srv->servername, srv->daily_limit),
					 errdetail("The budget starts again at midnight UTC."),
					 errhint("Raise the server option \"daily_limit\" if the provider allows more.")));
		if (wait_ms == 0)
			return;
		if (paused && wait_ms > srv->max_retry_wait_ms)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("server \"%s\" asked to pause requests for %ld s, longer than max_retry_wait (%d ms)",
							srv->servername, (wait_ms + 999) / 1000, srv->max_retry_wait_ms),
					 errhint("Try again later, or raise the server option \"max_retry_wait\".")));
		scaler_sleep_ms(wait_ms);
	}
}

/* The provider asked for no requests before until (Retry-After and the like). */
void
scaler_rate_pause(const ScalerServerOptions *srv, TimestampTz until)
{
	RateBudget *b = find_budget(srv);

	SpinLockAcquire(&b->mutex);
	if (until > b->paused_until)
		b->paused_until = until;
	SpinLockRelease(&b->mutex);
}
