/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  The FDW callbacks of scaler_fdw: planning with qual pushdown,
 *		  scanning, EXPLAIN.
 *
 * Pushdown never decides a result.  Quals the table's filters can express
 * (equality and IN on filter columns, time ranges) become request
 * parameters or path variables, and every qual is still evaluated locally:
 * a request only has to return a superset of the rows, so a provider that
 * filters loosely, or a time rounded to the API's resolution, can never
 * produce a wrong answer.  Values are bound at execution, so prepared
 * statements and parameters work.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include <limits.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"

/* Planner cost of one HTTP round trip, in units of seq_page_cost. */
#define REQUEST_STARTUP_COST	100.0
#define PER_ROW_PARSE_COST		0.01

typedef enum PushedOp
{
	PUSH_EQ,
	PUSH_IN,
	PUSH_LT,
	PUSH_LE,
	PUSH_GT,
	PUSH_GE
} PushedOp;

static const char *const pushed_op_names[] = {"=", "IN", "<", "<=", ">", ">="};

/* What the planner found pushable: a filter column, an operator, an expression. */
typedef struct PushedQual
{
	char	   *column;			/* the filter's column */
	char	   *qual_column;	/* the column the qual is on (period_end maps to period_start) */
	PushedOp	op;
	Expr	   *expr;
} PushedQual;

/* Values of the pushed quals, for one execution. */
typedef struct BoundFilter
{
	ScalerFilterSpec *filter;
	bool		eq_set;			/* an = or IN qual constrains it */
	List	   *eq_values;		/* text; empty with eq_set: nothing can match */
	bool		has_lower;
	TimestampTz lower;
	bool		has_upper;
	TimestampTz upper;
	bool		upper_inclusive;
} BoundFilter;

typedef struct ScalerScanState
{
	ScalerServerOptions server;
	ScalerTableSpec *spec;
	TupleDesc	tupdesc;
	List	   *pushed;			/* PushedQual, expr replaced by ExprState */
	List	   *pushed_states;
	List	   *var_names;
	List	   *retrieved;		/* attnums the scan converts */
	RecordExtractor *extractor;
	MemoryContext scan_cxt;
	MemoryContext sets_cxt;		/* one execution's request sets: reset on rescan */
	TableFetch	fetch;
	bool		fetch_ready;
	bool		started;
	int			parent_rows;
	ScalerHttpStats parent_stats;
} ScalerScanState;

/* ---------- planning ---------- */

static Oid
scan_server(Oid foreigntableid)
{
	return GetForeignTable(foreigntableid)->serverid;
}

/* Is this qual one the table's filters can carry?  Fills *pq. */
static bool
classify_qual(PlannerInfo *root, RelOptInfo *baserel, Oid relid,
			  ScalerTableSpec *spec, Expr *clause, PushedQual *pq)
{
	Node	   *left;
	Node	   *right;
	Oid			opno;
	bool		in_list = false;
	Var		   *var;
	Node	   *other;
	char	   *opname;
	char	   *colname;
	ScalerFilterSpec *filter;
	bool		commuted = false;

	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		left = linitial(((OpExpr *) clause)->args);
		right = lsecond(((OpExpr *) clause)->args);
		opno = ((OpExpr *) clause)->opno;
	}
	else if (IsA(clause, ScalarArrayOpExpr) && ((ScalarArrayOpExpr *) clause)->useOr)
	{
		left = linitial(((ScalarArrayOpExpr *) clause)->args);
		right = lsecond(((ScalarArrayOpExpr *) clause)->args);
		opno = ((ScalarArrayOpExpr *) clause)->opno;
		in_list = true;
	}
	else
		return false;

	if (IsA(left, RelabelType))
		left = (Node *) ((RelabelType *) left)->arg;
	if (IsA(right, RelabelType))
		right = (Node *) ((RelabelType *) right)->arg;
	/* Our column on the left: swap when it is on the right ("m.meter_id = c.meter_id"). */
	if (!in_list && IsA(right, Var) && (Index) ((Var *) right)->varno == baserel->relid &&
		((Var *) right)->varlevelsup == 0 &&
		!(IsA(left, Var) && (Index) ((Var *) left)->varno == baserel->relid))
	{
		Node	   *t = left;

		left = right;
		right = t;
		commuted = true;
	}
	if (!IsA(left, Var) || (Index) ((Var *) left)->varno != baserel->relid ||
		((Var *) left)->varlevelsup != 0 || ((Var *) left)->varattno <= 0)
		return false;
	var = (Var *) left;
	other = right;
	pq->expr = (Expr *) other;
	/*
	 * The other side is fixed for one scan: a constant, a parameter, or (on a
	 * parameterized path) an expression of the outer relations of a join.
	 */
	if (contain_volatile_functions(other) ||
		bms_is_member(baserel->relid, pull_varnos(root, other)))
		return false;

	opname = get_opname(opno);
	colname = get_attname(relid, var->varattno, false);
	if (opname == NULL)
		return false;
	if (var->vartype != TEXTOID && var->vartype != VARCHAROID && var->vartype != TIMESTAMPTZOID)
		return false;
	if (in_list)
	{
		if (strcmp(opname, "=") != 0 || exprType(other) != get_array_type(var->vartype))
			return false;
		pq->op = PUSH_IN;
	}
	else
	{
		if (exprType(other) != var->vartype)
			return false;
		if (strcmp(opname, "=") == 0)
			pq->op = PUSH_EQ;
		else if (strcmp(opname, "<") == 0)
			pq->op = commuted ? PUSH_GT : PUSH_LT;
		else if (strcmp(opname, "<=") == 0)
			pq->op = commuted ? PUSH_GE : PUSH_LE;
		else if (strcmp(opname, ">") == 0)
			pq->op = commuted ? PUSH_LT : PUSH_GT;
		else if (strcmp(opname, ">=") == 0)
			pq->op = commuted ? PUSH_LE : PUSH_GE;
		else
			return false;
	}

	filter = scaler_table_filter(spec, colname);
	pq->qual_column = colname;
	pq->column = colname;
	/* period_end < t implies period_start < t: an upper bound for the start filter. */
	if (filter == NULL && strcmp(colname, "period_end") == 0 &&
		(pq->op == PUSH_LT || pq->op == PUSH_LE))
	{
		filter = scaler_table_filter(spec, "period_start");
		pq->column = "period_start";
		pq->op = PUSH_LE;
	}
	if (filter == NULL)
		return false;
	if (filter->kind == FILTER_RANGE)
		return var->vartype == TIMESTAMPTZOID && pq->op != PUSH_EQ && pq->op != PUSH_IN;
	return (pq->op == PUSH_EQ || pq->op == PUSH_IN) && var->vartype != TIMESTAMPTZOID;
}

static void
scalerGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	ScalerServerOptions srv;
	ScalerTableSpec *spec;

	scaler_get_server_options(scan_server(foreigntableid), InvalidOid, &srv);
	spec = scaler_get_table_spec(foreigntableid, &srv);
	baserel->fdw_private = spec;
	baserel->tuples = spec->rows_estimate;
	baserel->rows = clamp_row_est(spec->rows_estimate *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
}

/* For generate_implied_equalities_for_column: is em this column of rel? */
static bool
ec_member_is_column(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	Expr	   *e = em->em_expr;

	if (IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	return IsA(e, Var) && (Index) ((Var *) e)->varno == rel->relid &&
		((Var *) e)->varlevelsup == 0 && ((Var *) e)->varattno == *(AttrNumber *) arg;
}

static void
scalerGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	ScalerTableSpec *spec = (ScalerTableSpec *) baserel->fdw_private;
	Cost		startup = REQUEST_STARTUP_COST;
	Cost		total = startup + baserel->rows * (cpu_tuple_cost + PER_ROW_PARSE_COST);
	ListCell   *lc;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup, total, NIL, NULL, NULL,
#if PG_VERSION_NUM >= 170000
									 NIL,
#endif
									 NIL));

	/*
	 * Parameterized paths: a join on a column the API filters by (meters to
	 * consumption on meter_id) can send each outer row's value as a request
	 * parameter, one small request per outer row.
	 */
	foreach(lc, spec->filters)
	{
		ScalerFilterSpec *f = (ScalerFilterSpec *) lfirst(lc);
		AttrNumber	attno;
		List	   *clauses;
		ListCell   *cc;

		if (f->kind == FILTER_RANGE)
			continue;
		attno = get_attnum(foreigntableid, f->column);
		if (attno == InvalidAttrNumber)
			continue;
		clauses = generate_implied_equalities_for_column(root, baserel, ec_member_is_column,
														 &attno, baserel->lateral_referencers);
		foreach(cc, clauses)
		{
			RestrictInfo *ri = (RestrictInfo *) lfirst(cc);
			Relids		required_outer = bms_difference(ri->clause_relids, baserel->relids);
			ParamPathInfo *ppi;

			if (bms_is_empty(required_outer))
				continue;
			ppi = get_baserel_parampathinfo(root, baserel, required_outer);
			add_path(baserel, (Path *)
					 create_foreignscan_path(root, baserel, NULL, ppi->ppi_rows,
											 startup,
											 startup + ppi->ppi_rows * (cpu_tuple_cost + PER_ROW_PARSE_COST),
											 NIL, required_outer, NULL,
#if PG_VERSION_NUM >= 170000
											 NIL,
#endif
											 NIL));
		}
	}
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
	ScalerTableSpec *spec = (ScalerTableSpec *) baserel->fdw_private;
	Relation	rel = table_open(foreigntableid, NoLock);
	List	   *attrs = retrieved_attrs(baserel, rel);
	List	   *pushed_desc = NIL;
	List	   *exprs = NIL;
	ListCell   *lc;
	int			limit = 0;

	table_close(rel, NoLock);
	/* scan_clauses include a parameterized path's join clauses. */
	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = (RestrictInfo *) lfirst(lc);
		PushedQual	pq;

		memset(&pq, 0, sizeof(pq));
		if (!classify_qual(root, baserel, foreigntableid, spec, ri->clause, &pq))
			continue;
		pushed_desc = lappend(pushed_desc,
							  list_make3(makeString(pq.column), makeString(pq.qual_column),
										 makeInteger(pq.op)));
		exprs = lappend(exprs, pq.expr);
	}
	/*
	 * LIMIT makes the first page no larger than needed, when the scan is the
	 * whole query (no join, sort or grouping above it) and every qual went to
	 * the API, so that no row the provider sends is filtered out here.
	 */
	if (root->limit_tuples > 0 && root->limit_tuples < INT_MAX &&
		list_length(pushed_desc) == list_length(scan_clauses) &&
		bms_membership(root->all_baserels) == BMS_SINGLETON &&
		root->parse->sortClause == NIL && root->parse->groupClause == NIL &&
		!root->parse->hasAggs && root->parse->distinctClause == NIL &&
		!root->parse->hasWindowFuncs && !root->parse->hasTargetSRFs)
		limit = (int) root->limit_tuples;

	/* Every qual stays a local filter too: pushed ones only narrow requests. */
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	return make_foreignscan(tlist, scan_clauses, baserel->relid, exprs,
							list_make3(attrs, pushed_desc, makeInteger(limit)), NIL, NIL, outer_plan);
}

/* ---------- execution ---------- */

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

/* The field of a column: its json_path option, the profile's field, or its name. */
static ScalerFieldSpec *
column_field(Oid relid, ScalerTableSpec *spec, AttrNumber attnum, const char *attname)
{
	char	   *path = scaler_get_column_option(relid, attnum, "json_path");
	ScalerFieldSpec *f;

	if (path == NULL && (f = scaler_table_field(spec, attname)) != NULL)
		return f;
	f = palloc0(sizeof(ScalerFieldSpec));
	f->column = pstrdup(attname);
	f->kind = FIELD_PATH;
	f->path_text = path ? path : pstrdup(attname);
	f->path = scaler_parse_path(f->path_text, psprintf("column \"%s\"", attname), false);
	return f;
}

/* Request variables: the parent's, then path filters', then the server's profile_vars. */
static List *
table_var_names(ScalerTableSpec *spec, const ScalerServerOptions *srv)
{
	List	   *names = list_copy(spec->parent_vars);
	ListCell   *lc;

	foreach(lc, srv->var_names)
	{
		bool		found = false;
		ListCell   *nc;

		foreach(nc, names)
			if (strcmp((char *) lfirst(nc), (char *) lfirst(lc)) == 0)
				found = true;
		if (!found)
			names = lappend(names, lfirst(lc));
	}

	foreach(lc, spec->filters)
	{
		ScalerFilterSpec *f = (ScalerFilterSpec *) lfirst(lc);

		if (f->kind == FILTER_PATH_VAR && !list_member(names, makeString(f->column)))
		{
			bool		found = false;
			ListCell   *nc;

			foreach(nc, names)
				if (strcmp((char *) lfirst(nc), f->column) == 0)
					found = true;
			if (!found)
				names = lappend(names, f->column);
		}
	}
	return names;
}

static void
scalerBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Relation	rel = node->ss.ss_currentRelation;
	Oid			relid = RelationGetRelid(rel);
	ScalerScanState *st;
	bool		explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
	List	   *columns = NIL;
	ListCell   *lc;
	MemoryContext old;

	st = palloc0(sizeof(ScalerScanState));
	node->fdw_state = st;
	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt, "scaler_fdw scan",
										 ALLOCSET_DEFAULT_SIZES);
	st->sets_cxt = AllocSetContextCreate(st->scan_cxt, "scaler_fdw request sets",
										 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(st->scan_cxt);

	/* EXPLAIN alone needs no credentials, and so no user mapping. */
	scaler_get_server_options(GetForeignTable(relid)->serverid,
							  explain_only ? InvalidOid : scan_user(node, estate),
							  &st->server);
	st->spec = scaler_get_table_spec(relid, &st->server);
	st->tupdesc = RelationGetDescr(rel);
	st->pushed = (List *) lsecond(fsplan->fdw_private);
	st->retrieved = (List *) linitial(fsplan->fdw_private);
	st->var_names = table_var_names(st->spec, &st->server);

	if (!explain_only)
	{
		foreach(lc, (List *) linitial(fsplan->fdw_private))
		{
			int			attnum = lfirst_int(lc);
			RecordColumn *rc = palloc0(sizeof(RecordColumn));

			rc->attnum = attnum;
			rc->name = NameStr(TupleDescAttr(st->tupdesc, attnum - 1)->attname);
			rc->field = column_field(relid, st->spec, attnum, rc->name);
			rc->explicit_path = scaler_get_column_option(relid, attnum, "json_path") != NULL;
			columns = lappend(columns, rc);
		}
		st->extractor = records_compile(st->tupdesc, columns, st->spec, st->var_names);
		records_set_null_on_error(st->extractor, st->server.null_on_conversion_error);
		st->pushed_states = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);
	}
	MemoryContextSwitchTo(old);
}

/* ---------- binding pushed quals ---------- */

static BoundFilter *
bound_filter(List **bound, ScalerFilterSpec *filter)
{
	ListCell   *lc;
	BoundFilter *b;

	foreach(lc, *bound)
		if (((BoundFilter *) lfirst(lc))->filter == filter)
			return (BoundFilter *) lfirst(lc);
	b = palloc0(sizeof(BoundFilter));
	b->filter = filter;
	*bound = lappend(*bound, b);
	return b;
}

static List *
intersect_values(List *a, List *b)
{
	List	   *result = NIL;
	ListCell   *x,
			   *y;

	foreach(x, a)
		foreach(y, b)
			if (strcmp((char *) lfirst(x), (char *) lfirst(y)) == 0)
			{
				result = lappend(result, lfirst(x));
				break;
			}
	return result;
}

static List *
distinct_values(List *values)
{
	List	   *result = NIL;
	ListCell   *x,
			   *y;

	foreach(x, values)
	{
		bool		seen = false;

		foreach(y, result)
			if (strcmp((char *) lfirst(x), (char *) lfirst(y)) == 0)
				seen = true;
		if (!seen)
			result = lappend(result, lfirst(x));
	}
	return result;
}

/*
 * Evaluate the pushed quals.  Returns false when they cannot all be true
 * (col = NULL, contradictory equalities): then no request is needed.
 */
static bool
bind_filters(ForeignScanState *node, ScalerScanState *st, List **bound)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	ListCell   *lc,
			   *sc;

	*bound = NIL;
	forboth(lc, st->pushed, sc, st->pushed_states)
	{
		List	   *desc = (List *) lfirst(lc);
		char	   *column = strVal(linitial(desc));
		PushedOp	op = (PushedOp) intVal(lthird(desc));
		ExprState  *es = (ExprState *) lfirst(sc);
		ScalerFilterSpec *filter = scaler_table_filter(st->spec, column);
		BoundFilter *b = bound_filter(bound, filter);
		bool		isnull;
		Datum		value = ExecEvalExpr(es, econtext, &isnull);
		List	   *values = NIL;

		if (isnull)
			return false;
		switch (op)
		{
			case PUSH_EQ:
				values = list_make1(TextDatumGetCString(value));
				break;
			case PUSH_IN:
				{
					ArrayType  *arr = DatumGetArrayTypeP(value);
					Datum	   *elems;
					bool	   *enulls;
					int			n;
					int16		elmlen;
					bool		elmbyval;
					char		elmalign;

					get_typlenbyvalalign(ARR_ELEMTYPE(arr), &elmlen, &elmbyval, &elmalign);
					deconstruct_array(arr, ARR_ELEMTYPE(arr), elmlen, elmbyval, elmalign,
									  &elems, &enulls, &n);
					for (int i = 0; i < n; i++)
						if (!enulls[i])
							values = lappend(values, TextDatumGetCString(elems[i]));
					break;
				}
			case PUSH_GT:
			case PUSH_GE:
				if (!b->has_lower || DatumGetTimestampTz(value) > b->lower)
					b->lower = DatumGetTimestampTz(value);
				b->has_lower = true;
				continue;
			case PUSH_LT:
			case PUSH_LE:
				if (!b->has_upper || DatumGetTimestampTz(value) < b->upper ||
					(DatumGetTimestampTz(value) == b->upper && op == PUSH_LT))
				{
					b->upper = DatumGetTimestampTz(value);
					b->upper_inclusive = (op == PUSH_LE);
				}
				b->has_upper = true;
				continue;
		}
		b->eq_values = b->eq_set ? intersect_values(b->eq_values, values) : distinct_values(values);
		b->eq_set = true;
		if (b->eq_values == NIL)
			return false;
	}
	return true;
}

/* ---------- time parameters ---------- */

static int64
format_unit_usecs(ValueFormat fmt)
{
	switch (fmt)
	{
		case FMT_DATE:
			return USECS_PER_DAY;
		case FMT_EPOCH_MS:
			return 1000;
		default:
			return USECS_PER_SEC;
	}
}

/*
 * Round t down (or up) to an instant the API can express: a whole second
 * (or millisecond), or a midnight of the filter's zone for dates, found in
 * local time so that a daylight-saving change in between cannot shift it.
 */
static TimestampTz
round_time(const ScalerFilterSpec *f, TimestampTz t, bool up)
{
	int64		unit = format_unit_usecs(f->format);
	int64		r;

	if (f->format == FMT_DATE && f->timezone)
	{
		Datum		zone = CStringGetTextDatum(f->timezone);
		Timestamp	local = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone, zone,
																  TimestampTzGetDatum(t)));

		r = local - ((local % unit) + unit) % unit;
		if (up && r < local)
			r += unit;
		return DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, zone, TimestampGetDatum(r)));
	}
	r = t - ((t % unit) + unit) % unit;
	if (up && r < t)
		r += unit;
	return r;
}

static char *
format_time(const ScalerFilterSpec *f, TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int64		unix_usecs = t + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

	switch (f->format)
	{
		case FMT_EPOCH:
			return psprintf(INT64_FORMAT, unix_usecs / USECS_PER_SEC);
		case FMT_EPOCH_MS:
			return psprintf(INT64_FORMAT, unix_usecs / 1000);
		case FMT_DATE:
			if (f->timezone)
				t = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone,
														  CStringGetTextDatum(f->timezone),
														  TimestampTzGetDatum(t)));
			if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("timestamp out of range")));
			return psprintf("%04d-%02d-%02d", tm.tm_year, tm.tm_mon, tm.tm_mday);
		default:
			if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("timestamp out of range")));
			return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year, tm.tm_mon,
							tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
}

typedef struct Alternative
{
	List	   *var_names;		/* assignments of this alternative */
	List	   *var_values;
	List	   *param_names;
	List	   *param_values;
	List	   *checks;			/* SetCheck: what its rows must satisfy */
} Alternative;

static Alternative *
make_alt(void)
{
	return palloc0(sizeof(Alternative));
}

static void
add_range_params(Alternative *alt, const ScalerFilterSpec *f, TimestampTz from, bool has_from,
				 TimestampTz to, bool has_to)
{
	if (has_from && f->from_param)
	{
		alt->param_names = lappend(alt->param_names, f->from_param);
		alt->param_values = lappend(alt->param_values, format_time(f, from));
	}
	if (has_to && f->to_param)
	{
		alt->param_names = lappend(alt->param_names, f->to_param);
		alt->param_values = lappend(alt->param_values, format_time(f, to));
	}
}

/* A row of this request set must have attidx in [lo, hi) (each bound if set). */
static void
add_time_check(Alternative *alt, int attidx, bool has_lo, TimestampTz lo, bool has_hi, TimestampTz hi)
{
	SetCheck   *c = palloc0(sizeof(SetCheck));

	c->attidx = attidx;
	c->is_time = true;
	c->has_lo = has_lo;
	c->lo = lo;
	c->has_hi = has_hi;
	c->hi = hi;
	alt->checks = lappend(alt->checks, c);
}

/*
 * The request sets of one time range: one, or windows of at most
 * max_window.  Bounds are rounded outwards to what the API can express, so
 * a request asks for a superset.  Windows meet exactly at instants the API
 * expresses, the last one is open when the query has no upper bound, and
 * each window keeps only the rows that start inside it: a provider whose
 * filter overlaps its bounds cannot return a row twice.
 */
static List *
range_alternatives(BoundFilter *b, int attidx)
{
	const ScalerFilterSpec *f = b->filter;
	List	   *alts = NIL;
	TimestampTz from = b->has_lower ? round_time(f, b->lower, false) : 0;
	TimestampTz to = 0;

	if (b->has_upper)
	{
		/* "to" must take in every instant the qual allows. */
		if (!f->end_inclusive && b->upper_inclusive)
			to = round_time(f, b->upper + 1, true);
		else
			to = round_time(f, b->upper, true);
	}

	if (f->max_window_secs > 0 && b->has_lower && !(b->has_upper && to <= from))
	{
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz a = from;
		bool		first = true;

		for (;;)
		{
			Alternative *alt = make_alt();
			TimestampTz bnd = round_time(f, a + f->max_window_secs * USECS_PER_SEC, false);
			bool		last;

			if (bnd <= a)
				bnd = round_time(f, a + 1, true);
			last = b->has_upper ? bnd >= to : a > now;
			if (last && b->has_upper)
				bnd = to;
			if (last && !b->has_upper)
				add_range_params(alt, f, a, true, 0, false);	/* open: nothing is lost in the future */
			else
				/* An inclusive "to" stops at the last instant before the next window. */
				add_range_params(alt, f, a, true,
								 f->end_inclusive && !last ? round_time(f, bnd - 1, false) : bnd, true);
			if (attidx >= 0)
				add_time_check(alt, attidx, !first, a, !last, bnd);
			alts = lappend(alts, alt);
			if (last)
				break;
			a = bnd;
			first = false;
			CHECK_FOR_INTERRUPTS();
		}
		return alts;
	}

	{
		Alternative *alt = make_alt();

		add_range_params(alt, f, from, b->has_lower, to, b->has_upper);
		return list_make1(alt);
	}
}

/*
 * The alternatives an equality (= or IN) on filter f becomes: one list
 * parameter, or one request per value.  With one request per value, a row
 * answers the request of its own value only: checked on column attidx,
 * unless it is -1.
 */
static List *
equality_group(const ScalerFilterSpec *f, List *values, int attidx)
{
	List	   *group = NIL;
	ListCell   *vc;

	if (f->kind == FILTER_PARAM && f->list_separator)
	{
		Alternative *alt = make_alt();
		StringInfoData list;

		initStringInfo(&list);
		foreach(vc, values)
			appendStringInfo(&list, "%s%s", list.len ? f->list_separator : "", (char *) lfirst(vc));
		alt->param_names = list_make1(f->param);
		alt->param_values = list_make1(list.data);
		return list_make1(alt);
	}
	foreach(vc, values)
	{
		Alternative *alt = make_alt();

		if (f->kind == FILTER_PARAM)
		{
			alt->param_names = list_make1(f->param);
			alt->param_values = list_make1(lfirst(vc));
		}
		else
		{
			alt->var_names = list_make1(f->column);
			alt->var_values = list_make1(lfirst(vc));
		}
		if (attidx >= 0 && list_length(values) > 1)
		{
			SetCheck   *c = palloc0(sizeof(SetCheck));

			c->attidx = attidx;
			c->text = (char *) lfirst(vc);
			alt->checks = lappend(alt->checks, c);
		}
		group = lappend(group, alt);
	}
	return group;
}

/*
 * Every combination of one alternative from each group.  A combination that
 * gives one variable two values is none (a pinned meter crossed with its
 * parent's rows keeps only that meter's row); a variable given twice the
 * same value is kept once.
 */
static List *
cross_product(List *sets, List *group)
{
	List	   *result = NIL;
	ListCell   *a,
			   *b;

	foreach(a, sets)
		foreach(b, group)
		{
			Alternative *x = (Alternative *) lfirst(a);
			Alternative *y = (Alternative *) lfirst(b);
			Alternative *z = make_alt();
			bool		conflict = false;
			ListCell   *yn,
					   *yv;

			z->var_names = list_copy(x->var_names);
			z->var_values = list_copy(x->var_values);
			forboth(yn, y->var_names, yv, y->var_values)
			{
				ListCell   *xn,
						   *xv;
				bool		seen = false;

				forboth(xn, x->var_names, xv, x->var_values)
					if (strcmp((char *) lfirst(xn), (char *) lfirst(yn)) == 0)
					{
						seen = true;
						if (lfirst(xv) == NULL || lfirst(yv) == NULL ?
							lfirst(xv) != lfirst(yv) : strcmp((char *) lfirst(xv), (char *) lfirst(yv)) != 0)
							conflict = true;
					}
				if (!seen)
				{
					z->var_names = lappend(z->var_names, lfirst(yn));
					z->var_values = lappend(z->var_values, lfirst(yv));
				}
			}
			if (conflict)
				continue;
			z->param_names = list_concat_copy(x->param_names, y->param_names);
			z->param_values = list_concat_copy(x->param_values, y->param_values);
			z->checks = list_concat_copy(x->checks, y->checks);
			result = lappend(result, z);
		}
	return result;
}

/*
 * Alternatives as request sets, with their variables in the order of
 * var_names: the server's profile_vars, unless the alternative (a query's
 * value, a parent's row) says otherwise.
 */
static List *
request_sets(ScalerScanState *st, List *alts, List *var_names)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, alts)
	{
		Alternative *alt = (Alternative *) lfirst(lc);
		RequestSet *set = palloc0(sizeof(RequestSet));
		ListCell   *nc;
		int			i = 0;

		set->var_values = palloc0(sizeof(char *) * Max(list_length(var_names), 1));
		foreach(nc, var_names)
		{
			ListCell   *an,
					   *av;

			forboth(an, st->server.var_names, av, st->server.var_values)
				if (strcmp((char *) lfirst(an), (char *) lfirst(nc)) == 0)
					set->var_values[i] = (char *) lfirst(av);
			forboth(an, alt->var_names, av, alt->var_values)
				if (strcmp((char *) lfirst(an), (char *) lfirst(nc)) == 0)
					set->var_values[i] = (char *) lfirst(av);
			i++;
		}
		set->param_names = alt->param_names;
		set->param_values = alt->param_values;
		set->checks = alt->checks;
		result = lappend(result, set);
	}
	return result;
}

/* Does the request of spec use variable name (in its path, query, headers or body)? */
static bool
request_uses_var(const ScalerTableSpec *spec, const char *name)
{
	char	   *needle = psprintf("{%s}", name);
	bool		used = strstr(spec->path, needle) != NULL ||
		(spec->body && strstr(spec->body, needle) != NULL);
	ListCell   *lc;

	foreach(lc, spec->query_values)
		used = used || strstr((char *) lfirst(lc), needle) != NULL;
	foreach(lc, spec->header_values)
		used = used || strstr((char *) lfirst(lc), needle) != NULL;
	pfree(needle);
	return used;
}

/* The child's equality values on column, or NULL when it has none. */
static BoundFilter *
bound_eq(List *bound, const char *column)
{
	ListCell   *lc;

	foreach(lc, bound)
	{
		BoundFilter *b = (BoundFilter *) lfirst(lc);

		if (b->eq_set && strcmp(b->filter->column, column) == 0)
			return b;
	}
	return NULL;
}

/*
 * Must spec's parent be scanned, given the equalities in bound?  Not when
 * every parent variable that matters (one its request uses, or one that
 * fills a column read, listed in wanted) is pinned by an equality on a path
 * filter.  A variable that matters for neither is left NULL.
 */
static bool
parent_needed(const ScalerTableSpec *spec, List *bound, List *wanted)
{
	ListCell   *lc;

	foreach(lc, spec->parent_vars)
	{
		char	   *var = (char *) lfirst(lc);
		ScalerFilterSpec *f = scaler_table_filter((ScalerTableSpec *) spec, var);

		bool		is_wanted = false;
		ListCell   *wc;

		foreach(wc, wanted)
			is_wanted = is_wanted || strcmp((char *) lfirst(wc), var) == 0;
		if (!request_uses_var(spec, var) && !is_wanted)
			continue;
		if (f == NULL || f->kind != FILTER_PATH_VAR || bound_eq(bound, var) == NULL)
			return true;
	}
	return false;
}

/* The request variables that fill the named columns of spec. */
static List *
fields_var_names(const ScalerTableSpec *spec, List *columns)
{
	List	   *names = NIL;
	ListCell   *lc;

	foreach(lc, columns)
	{
		ScalerFieldSpec *f = scaler_table_field((ScalerTableSpec *) spec, (char *) lfirst(lc));

		if (f && f->kind == FIELD_VAR)
			names = lappend(names, f->path_text);
		if (f && f->power_of_ten_var)
			names = lappend(names, f->power_of_ten_var);
	}
	return names;
}

/* The equalities in bound on the given columns only. */
static List *
bound_on(List *bound, List *columns)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, bound)
	{
		BoundFilter *b = (BoundFilter *) lfirst(lc);
		ListCell   *cc;

		foreach(cc, columns)
			if (b->eq_set && strcmp(b->filter->column, (char *) lfirst(cc)) == 0)
				result = lappend(result, b);
	}
	return result;
}

/*
 * The rows of child's parent table, as alternatives assigning the child's
 * parent variables.  The parent's own requests take the child's
 * equalities on its filter columns, and its own parent's rows in turn, so
 * chains such as account -> properties -> meters -> readings fan out level
 * by level.
 */
static List *
parent_alternatives(ScalerScanState *st, const ScalerTableSpec *child, List *child_bound)
{
	ScalerTableSpec *parent = scaler_profile_table(st->server.profile, child->parent_table, false);
	int			n = list_length(child->parent_vars);
	TupleDesc	desc = CreateTemplateTupleDesc(n);
	List	   *columns = NIL;
	List	   *alts = NIL;
	List	   *palts = list_make1(make_alt());
	List	   *pvar_names = table_var_names(parent, &st->server);
	List	   *sets = NIL;
	RecordExtractor *ex;
	TableFetch	pf;
	ListCell   *lc;
	Datum	   *values;
	bool	   *nulls;
	int			i = 0;

	/*
	 * Only the child's equalities on the columns it takes from the parent
	 * say anything about the parent's rows; a column of the same name
	 * further down the chain may mean something else.
	 */
	List	   *bound = bound_on(child_bound, child->parent_vars);

	CHECK_FOR_INTERRUPTS();
	foreach(lc, child->parent_vars)
	{
		RecordColumn *rc = palloc0(sizeof(RecordColumn));

		TupleDescInitEntry(desc, ++i, (char *) lfirst(lc), TEXTOID, -1, 0);
		rc->attnum = i;
		rc->name = (char *) lfirst(lc);
		rc->field = scaler_table_field(parent, rc->name);
		columns = lappend(columns, rc);
	}

	/* The child's equalities on the parent's filter columns narrow the parent. */
	foreach(lc, parent->filters)
	{
		ScalerFilterSpec *pfilter = (ScalerFilterSpec *) lfirst(lc);
		BoundFilter *b = bound_eq(bound, pfilter->column);

		if (b != NULL && pfilter->kind != FILTER_RANGE)
			palts = cross_product(palts, equality_group(pfilter, b->eq_values, -1));
	}
	if (parent->parent_table &&
		parent_needed(parent, bound, fields_var_names(parent, child->parent_vars)))
		palts = cross_product(palts, parent_alternatives(st, parent, bound));

	sets = request_sets(st, palts, pvar_names);
	if (sets == NIL)
		return NIL;				/* a contradiction: no parent row, nothing to ask */
	ex = records_compile(desc, columns, parent, pvar_names);
	fetch_init(&pf, &st->server, parent, ex, n, pvar_names, sets, CurrentMemoryContext);

	while (fetch_next(&pf, &values, &nulls))
	{
		Alternative *alt = make_alt();
		bool		keep = true;

		i = 0;
		foreach(lc, child->parent_vars)
		{
			char	   *v = nulls[i] ? NULL : TextDatumGetCString(values[i]);
			BoundFilter *b = bound_eq(bound, (char *) lfirst(lc));

			/* A parent row without a variable its child's request needs can't be requested. */
			if (v == NULL && request_uses_var(child, (char *) lfirst(lc)))
				keep = false;
			/* Rows the child's equalities exclude need no requests. */
			if (keep && b && (v == NULL || intersect_values(b->eq_values, list_make1(v)) == NIL))
				keep = false;
			alt->var_names = lappend(alt->var_names, lfirst(lc));
			alt->var_values = lappend(alt->var_values, v);
			i++;
		}
		if (keep)
			alts = lappend(alts, alt);
		st->parent_rows++;
	}
	st->parent_stats.requests += pf.stats.requests;
	st->parent_stats.retries += pf.stats.retries;
	st->parent_stats.bytes += pf.stats.bytes;
	st->parent_stats.elapsed_ms += pf.stats.elapsed_ms;
	st->parent_stats.wait_ms += pf.stats.wait_ms;
	fetch_end(&pf);
	return alts;
}

/* The position of a column the scan reads, or -1. */
static int
column_index(ScalerScanState *st, const char *column)
{
	for (int i = 0; i < st->tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(st->tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0 &&
			list_member_int(st->retrieved, i + 1))
			return i;
	}
	return -1;
}

/* The request variables that fill columns this scan reads. */
static List *
retrieved_var_names(ScalerScanState *st)
{
	List	   *columns = NIL;
	ListCell   *lc;

	foreach(lc, st->retrieved)
		columns = lappend(columns, NameStr(TupleDescAttr(st->tupdesc, lfirst_int(lc) - 1)->attname));
	return fields_var_names(st->spec, columns);
}

/* The request sets of this execution, from the pushed quals and the parent. */
static List *
build_request_sets(ForeignScanState *node, ScalerScanState *st)
{
	List	   *bound;
	List	   *sets = list_make1(make_alt());
	ListCell   *lc;

	if (!bind_filters(node, st, &bound))
		return NIL;

	foreach(lc, bound)
	{
		BoundFilter *b = (BoundFilter *) lfirst(lc);
		ScalerFilterSpec *f = b->filter;
		List	   *group = NIL;

		if (f->kind == FILTER_RANGE)
			group = range_alternatives(b, column_index(st, f->column));
		else if (!b->eq_set)
			continue;
		else
			group = equality_group(f, b->eq_values, column_index(st, f->column));
		sets = cross_product(sets, group);
	}

	/* A parent is scanned unless the quals already pin every variable that matters. */
	if (st->spec->parent_table && parent_needed(st->spec, bound, retrieved_var_names(st)))
		sets = cross_product(sets, parent_alternatives(st, st->spec, bound));

	return request_sets(st, sets, st->var_names);
}

static TupleTableSlot *
scalerIterateForeignScan(ForeignScanState *node)
{
	ScalerScanState *st = (ScalerScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	int			natts = slot->tts_tupleDescriptor->natts;
	Datum	   *values;
	bool	   *nulls;

	/* The slot's datums point into the page context: clear before it is reset. */
	ExecClearTuple(slot);
	if (!st->started)
	{
		MemoryContext old;
		List	   *sets;

		/* A rescan's request sets replace the last ones: free those first. */
		if (st->fetch_ready)
			fetch_restart(&st->fetch, NIL);
		MemoryContextReset(st->sets_cxt);
		old = MemoryContextSwitchTo(st->sets_cxt);
		sets = build_request_sets(node, st);
		MemoryContextSwitchTo(st->scan_cxt);

		if (!st->fetch_ready)
		{
			fetch_init(&st->fetch, &st->server, st->spec, st->extractor, natts,
					   st->var_names, sets, st->scan_cxt);
			st->fetch.limit = intVal(lthird(((ForeignScan *) node->ss.ps.plan)->fdw_private));
			st->fetch_ready = true;
		}
		else
			fetch_restart(&st->fetch, sets);
		MemoryContextSwitchTo(old);
		st->started = true;
	}
	if (!fetch_next(&st->fetch, &values, &nulls))
		return slot;
	memcpy(slot->tts_values, values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * natts);
	return ExecStoreVirtualTuple(slot);
}

static void
scalerReScanForeignScan(ForeignScanState *node)
{
	ScalerScanState *st = (ScalerScanState *) node->fdw_state;

	/* Parameters may have changed, and provider data too: start over. */
	st->started = false;
}

static void
scalerEndForeignScan(ForeignScanState *node)
{
	ScalerScanState *st = (ScalerScanState *) node->fdw_state;
	const char *first;
	int64		failures;

	if (st && st->extractor &&
		(failures = records_conversion_failures(st->extractor, &first)) > 0)
		ereport(NOTICE,
				(errcode(ERRCODE_WARNING),
				 errmsg(INT64_FORMAT " values from server \"%s\" could not be converted to their columns' types and were read as NULL",
						failures, st->server.servername),
				 errdetail("The first: %s", first),
				 errhint("The server has on_conversion_error 'null'; without it, such a value is an error.")));
	if (st)
		MemoryContextDelete(st->scan_cxt);
	node->fdw_state = NULL;
}

/* ---------- EXPLAIN ---------- */

static char *
request_template(ScalerScanState *st)
{
	ScalerTableSpec *spec = st->spec;
	StringInfoData buf;
	ListCell   *a,
			   *b;
	bool		first = strchr(spec->path, '?') == NULL;

	initStringInfo(&buf);
	appendStringInfo(&buf, "GET %s", scaler_display_url(&st->server,
														scaler_join_url(st->server.base_url, spec->path)));
	forboth(a, spec->query_names, b, spec->query_values)
	{
		appendStringInfo(&buf, "%c%s=%s", first ? '?' : '&', (char *) lfirst(a), (char *) lfirst(b));
		first = false;
	}
	return buf.data;
}

static char *
pagination_text(const ScalerPaginationSpec *pg)
{
	switch (pg->kind)
	{
		case PAGINATE_NONE:
			return "none";
		case PAGINATE_NEXT_URL:
			return psprintf("next_url (%s)", pg->next_path);
		case PAGINATE_LINK_HEADER:
			return "link_header";
		case PAGINATE_PAGE:
			return psprintf("page (%s from %d%s%s)", pg->param, pg->start,
							pg->total_path ? ", total pages at " : "", pg->total_path ? pg->total_path : "");
		case PAGINATE_OFFSET:
			return psprintf("offset (%s, %s=%d)", pg->param, pg->size_param, pg->size);
		case PAGINATE_CURSOR:
			return psprintf("cursor (%s from %s)", pg->param, pg->cursor_path);
		case PAGINATE_NEXT_LINK:
			return psprintf("next_link (%s where %s is \"%s\")", pg->next_path,
							pg->link_match_attr, pg->link_match_value);
	}
	return "?";
}

static void
scalerExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ScalerScanState *st = (ScalerScanState *) node->fdw_state;
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	List	   *context;
	List	   *pushed_text = NIL;
	ListCell   *lc,
			   *ec;

	ExplainPropertyText("Request", request_template(st), es);
	ExplainPropertyText("Records Path", st->spec->records_text, es);
	ExplainPropertyText("Pagination", pagination_text(&st->spec->pagination), es);
	if (st->spec->parent_table)
	{
		StringInfoData vars;

		initStringInfo(&vars);
		foreach(lc, st->spec->parent_vars)
			appendStringInfo(&vars, "%s%s", vars.len ? ", " : "", (char *) lfirst(lc));
		ExplainPropertyText("Parent", psprintf("%s (%s)", st->spec->parent_table, vars.data), es);
	}

	context = set_deparse_context_plan(es->deparse_cxt, (Plan *) fsplan, NIL);
	forboth(lc, st->pushed, ec, fsplan->fdw_exprs)
	{
		List	   *desc = (List *) lfirst(lc);
		PushedOp	op = (PushedOp) intVal(lthird(desc));
		char	   *expr = deparse_expression((Node *) lfirst(ec), context, false, false);

		pushed_text = lappend(pushed_text,
							  op == PUSH_IN ? psprintf("%s = ANY (%s)", strVal(lsecond(desc)), expr)
							  : psprintf("%s %s %s", strVal(lsecond(desc)), pushed_op_names[op], expr));
	}
	if (pushed_text)
		ExplainPropertyList("Pushed Filters", pushed_text, es);
	if (intVal(lthird(fsplan->fdw_private)) > 0 && st->spec->pagination.size_param)
		ExplainPropertyInteger("Pushed Limit", NULL, intVal(lthird(fsplan->fdw_private)), es);

	if (es->analyze && st->fetch_ready)
	{
		ScalerHttpStats *s = &st->fetch.stats;

		ExplainPropertyInteger("Request Sets", NULL, st->fetch.request_sets_run, es);
		if (st->spec->parent_table)
		{
			ExplainPropertyInteger("Parent Rows", NULL, st->parent_rows, es);
			ExplainPropertyInteger("Parent Requests", NULL, st->parent_stats.requests, es);
		}
		ExplainPropertyInteger("Requests", NULL, s->requests, es);
		ExplainPropertyInteger("Retries", NULL, s->retries, es);
		ExplainPropertyInteger("Pages", NULL, st->fetch.pages, es);
		ExplainPropertyInteger("Bytes Received", NULL, s->bytes, es);
		if (es->timing)
		{
			ExplainPropertyFloat("Request Time", "ms", s->elapsed_ms, 3, es);
			ExplainPropertyFloat("Wait Time", "ms", s->wait_ms, 3, es);
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
	routine->ImportForeignSchema = scalerImportForeignSchema;
}
