/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  The FDW callbacks of scaler_fdw: planning, scanning, EXPLAIN.
 *
 * A scan fetches one page at a time and hands out its rows before the
 * next page is requested, so rows stream and memory holds one page: the
 * page's rows live in a per-page memory context that is reset, not freed
 * piece by piece, when the next page arrives.  The response buffer lives in
 * the per-scan context and is reused by every page.
 *
 * Every qual is evaluated locally for now, so results are always exact.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* Planner cost of one HTTP round trip, in units of seq_page_cost. */
#define REQUEST_STARTUP_COST	100.0
#define PER_ROW_PARSE_COST		0.01

typedef struct ScalerScanState
{
	ScalerServerOptions server;
	ScalerTableOptions table;
	char	   *first_url;
	char	   *next_url;		/* NULL when the last page has been fetched */
	RecordExtractor *extractor;
	MemoryContext scan_cxt;
	MemoryContext page_cxt;
	ScalerHttpResponse resp;
	RecordPage	page;
	int			next_row;
	int			pages;
	int64		rows;
	ScalerHttpStats stats;
} ScalerScanState;

static void
scalerGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	ScalerTableOptions topts;

	scaler_get_table_options(foreigntableid, &topts);
	baserel->tuples = topts.rows_estimate;
	baserel->rows = clamp_row_est(topts.rows_estimate *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
}

static void
scalerGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	Cost		startup = REQUEST_STARTUP_COST;
	Cost		total = startup + baserel->tuples * (cpu_tuple_cost + PER_ROW_PARSE_COST);

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup, total, NIL, NULL, NULL,
#if PG_VERSION_NUM >= 170000
									 NIL,
#endif
									 NIL));
}

/* The attribute numbers a query reads: only those are extracted. */
static List *
retrieved_attrs(RelOptInfo *baserel, Relation rel)
{
	Bitmapset  *attrs_used = NULL;
	List	   *result = NIL;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		whole_row;
	ListCell   *lc;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause,
					   baserel->relid, &attrs_used);

	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used);
	for (int i = 1; i <= tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i - 1)->attisdropped)
			continue;
		if (whole_row || bms_is_member(i - FirstLowInvalidHeapAttributeNumber, attrs_used))
			result = lappend_int(result, i);
	}
	return result;
}

static ForeignScan *
scalerGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					 ForeignPath *best_path, List *tlist, List *scan_clauses,
					 Plan *outer_plan)
{
	Relation	rel = table_open(foreigntableid, NoLock);
	List	   *attrs = retrieved_attrs(baserel, rel);

	table_close(rel, NoLock);
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	return make_foreignscan(tlist, scan_clauses, baserel->relid, NIL,
							list_make1(attrs), NIL, NIL, outer_plan);
}

static Oid
scan_user(ForeignScanState *node, EState *estate)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;

#if PG_VERSION_NUM >= 160000
	return OidIsValid(fsplan->checkAsUser) ? fsplan->checkAsUser : GetUserId();
#else
	RangeTblEntry *rte = exec_rt_fetch(fsplan->scan.scanrelid, estate);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

static void
scalerBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Relation	rel = node->ss.ss_currentRelation;
	ScalerScanState *st;
	ForeignTable *table = GetForeignTable(RelationGetRelid(rel));
	bool		explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
	MemoryContext old;

	st = palloc0(sizeof(ScalerScanState));
	node->fdw_state = st;
	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt, "scaler_fdw scan",
										 ALLOCSET_DEFAULT_SIZES);
	st->page_cxt = AllocSetContextCreate(st->scan_cxt, "scaler_fdw page",
										 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(st->scan_cxt);

	/* EXPLAIN alone needs no credentials, and so no user mapping. */
	scaler_get_server_options(table->serverid,
							  explain_only ? InvalidOid : scan_user(node, estate),
							  &st->server);
	scaler_get_table_options(RelationGetRelid(rel), &st->table);
	st->first_url = scaler_join_url(st->server.base_url, st->table.endpoint);

	if (!explain_only)
	{
		st->extractor = records_compile(rel, RelationGetDescr(rel),
										(List *) linitial(fsplan->fdw_private),
										st->table.records_path,
										st->table.pagination == SCALER_PAGINATE_NEXT_URL
										? st->table.next_url_path : NULL);
		scaler_http_init_response(&st->resp, st->scan_cxt, st->server.max_response_bytes);
		st->next_url = st->first_url;
	}
	MemoryContextSwitchTo(old);
}

static void
fetch_page(ScalerScanState *st)
{
	const ScalerServerOptions *srv = &st->server;
	char	   *url = st->next_url;
	char	   *request_desc;
	char	   *next = NULL;
	MemoryContext old;

	MemoryContextReset(st->page_cxt);
	old = MemoryContextSwitchTo(st->page_cxt);

	request_desc = psprintf("GET %s on server \"%s\"",
							scaler_display_url(srv, url), srv->servername);
	scaler_http_get(srv, url, &st->resp, &st->stats);
	scaler_http_report_status(srv, url, &st->resp);
	st->pages++;

	if (st->resp.status == 204)
		memset(&st->page, 0, sizeof(st->page));
	else
		records_parse_page(st->extractor, st->resp.body.data, st->resp.body.len,
						   &st->page, request_desc);
	st->next_row = 0;
	st->rows += st->page.nrows;

	if (st->table.pagination == SCALER_PAGINATE_NEXT_URL && st->page.next_url)
		next = scaler_resolve_next_url(srv, url, st->page.next_url);
	else if (st->table.pagination == SCALER_PAGINATE_LINK_HEADER)
	{
		char	   *link = scaler_link_next(&st->resp);

		if (link)
			next = scaler_resolve_next_url(srv, url, link);
	}

	if (next != NULL && strcmp(next, url) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("pagination loop: the response to %s names itself as the next page",
						request_desc),
				 errhint("Check the foreign table's \"pagination\" option against the provider's API.")));
	if (next != NULL && st->table.max_pages > 0 && st->pages >= st->table.max_pages)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("foreign table reached max_pages (%d) with more pages to fetch",
						st->table.max_pages),
				 errdetail("The next page would have been %s.", scaler_display_url(srv, next)),
				 errhint("Raise the foreign table option \"max_pages\", or narrow the query.")));

	MemoryContextSwitchTo(st->scan_cxt);
	st->next_url = next ? pstrdup(next) : NULL;
	if (url != st->first_url)
		pfree(url);
	MemoryContextSwitchTo(old);
}

static TupleTableSlot *
scalerIterateForeignScan(ForeignScanState *node)
{
	ScalerScanState *st = (ScalerScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	int			natts = slot->tts_tupleDescriptor->natts;

	/* The slot's datums point into the page context: clear before resetting it. */
	ExecClearTuple(slot);
	while (st->next_row >= st->page.nrows)
	{
		if (st->next_url == NULL)
			return slot;
		CHECK_FOR_INTERRUPTS();
		fetch_page(st);
	}

	memcpy(slot->tts_values, st->page.values + (size_t) st->next_row * natts,
		   sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, st->page.nulls + (size_t) st->next_row * natts,
		   sizeof(bool) * natts);
	st->next_row++;
	return ExecStoreVirtualTuple(slot);
}

static void
scalerReScanForeignScan(ForeignScanState *node)
{
	ScalerScanState *st = (ScalerScanState *) node->fdw_state;

	/* Provider data can change between scans: fetch again from the start. */
	MemoryContextReset(st->page_cxt);
	memset(&st->page, 0, sizeof(st->page));
	st->next_row = 0;
	st->next_url = st->first_url;
}

static void
scalerEndForeignScan(ForeignScanState *node)
{
	ScalerScanState *st = (ScalerScanState *) node->fdw_state;

	if (st)
		MemoryContextDelete(st->scan_cxt);
	node->fdw_state = NULL;
}

static void
scalerExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ScalerScanState *st = (ScalerScanState *) node->fdw_state;
	const ScalerTableOptions *t = &st->table;

	ExplainPropertyText("Request",
						psprintf("GET %s", scaler_display_url(&st->server, st->first_url)), es);
	ExplainPropertyText("Records Path", t->records_path, es);
	if (t->pagination == SCALER_PAGINATE_NEXT_URL)
		ExplainPropertyText("Pagination",
							psprintf("next_url (%s)", t->next_url_path), es);
	else
		ExplainPropertyText("Pagination", scaler_pagination_name(t->pagination), es);

	if (es->analyze)
	{
		ExplainPropertyInteger("Requests", NULL, st->stats.requests, es);
		ExplainPropertyInteger("Retries", NULL, st->stats.retries, es);
		ExplainPropertyInteger("Pages", NULL, st->pages, es);
		ExplainPropertyInteger("Bytes Received", NULL, st->stats.bytes, es);
		if (es->timing)
		{
			ExplainPropertyFloat("Request Time", "ms", st->stats.elapsed_ms, 3, es);
			ExplainPropertyFloat("Wait Time", "ms", st->stats.wait_ms, 3, es);
		}
	}
}

void
scaler_fdw_routine_init(void *routine_ptr)
{
	FdwRoutine *routine = (FdwRoutine *) routine_ptr;

	routine->GetForeignRelSize = scalerGetForeignRelSize;
	routine->GetForeignPaths = scalerGetForeignPaths;
	routine->GetForeignPlan = scalerGetForeignPlan;
	routine->BeginForeignScan = scalerBeginForeignScan;
	routine->IterateForeignScan = scalerIterateForeignScan;
	routine->ReScanForeignScan = scalerReScanForeignScan;
	routine->EndForeignScan = scalerEndForeignScan;
	routine->ExplainForeignScan = scalerExplainForeignScan;
}
