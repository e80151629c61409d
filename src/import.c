/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA: one foreign table per table of the server's
 *		  provider profile.
 *
 * The canonical tables (assets, meters, consumption) get the columns of
 * scaler.canonical_columns, the contract mapping and sync rely on, whether
 * or not the profile fills each one; fields a profile adds become text
 * columns after them.  Column comments come from the same catalog, set by
 * the extension's event trigger after the import (an FDW may return only
 * CREATE FOREIGN TABLE commands).
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

typedef struct CanonicalColumn
{
	char	   *name;
	char	   *type;
	char	   *json_path;		/* NULL: the profile's field */
} CanonicalColumn;

/*
 * The canonical columns of a table, from scaler.canonical_columns; for a
 * table that is not canonical (any_table), the first canonical column of
 * each name, which gives a provider's extra tables (bills) the same types.
 */
static List *
canonical_columns(const char *table, bool any_table)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *result = NIL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int			rc;

	args[0] = any_table ? (Datum) 0 : CStringGetTextDatum(table);
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("SPI_connect failed")));
	rc = SPI_execute_with_args(any_table
							   ? "SELECT DISTINCT ON (column_name) column_name, data_type, json_path "
							   "FROM scaler.canonical_columns ORDER BY column_name, table_name"
							   : "SELECT column_name, data_type, json_path "
							   "FROM scaler.canonical_columns WHERE table_name = $1 "
							   "ORDER BY position",
							   any_table ? 0 : 1, argtypes, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not read scaler.canonical_columns: %s", SPI_result_code_string(rc))));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(caller);
		CanonicalColumn *c = palloc0(sizeof(CanonicalColumn));
		char	   *path = SPI_getvalue(tup, desc, 3);

		c->name = pstrdup(SPI_getvalue(tup, desc, 1));
		c->type = pstrdup(SPI_getvalue(tup, desc, 2));
		c->json_path = path ? pstrdup(path) : NULL;
		result = lappend(result, c);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

static bool
wanted(ImportForeignSchemaStmt *stmt, const char *name)
{
	ListCell   *lc;
	bool		listed = false;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_ALL)
		return true;
	foreach(lc, stmt->table_list)
		if (strcmp(((RangeVar *) lfirst(lc))->relname, name) == 0)
			listed = true;
	return stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO ? listed : !listed;
}

List *
scalerImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ScalerServerOptions srv;
	List	   *commands = NIL;
	ListCell   *lc;

	scaler_get_server_options(serverOid, InvalidOid, &srv);
	if (srv.profile == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("server \"%s\" has no provider profile to import", srv.servername),
				 errhint("Give the server OPTIONS (provider '...') or (profile '...'); scaler.provider_profiles lists the built-in providers.")));

	foreach(lc, srv.profile->tables)
	{
		ScalerTableSpec *t = (ScalerTableSpec *) lfirst(lc);
		List	   *canon;
		StringInfoData cmd;
		ListCell   *cc;
		bool		first = true;
		bool		has_raw = false;

		List	   *typed = NIL;

		/* An internal table (a links list) serves as a parent; LIMIT TO may still ask for it. */
		if (!wanted(stmt, t->name) ||
			(t->internal && stmt->list_type != FDW_IMPORT_SCHEMA_LIMIT_TO))
			continue;
		canon = canonical_columns(t->name, false);
		if (canon == NIL)
			typed = canonical_columns(NULL, true);
		initStringInfo(&cmd);
		appendStringInfo(&cmd, "CREATE FOREIGN TABLE %s (", quote_identifier(t->name));
		foreach(cc, canon)
		{
			CanonicalColumn *c = (CanonicalColumn *) lfirst(cc);

			appendStringInfo(&cmd, "%s\n  %s %s", first ? "" : ",", quote_identifier(c->name), c->type);
			if (c->json_path)
				appendStringInfo(&cmd, " OPTIONS (json_path %s)", quote_literal_cstr(c->json_path));
			if (strcmp(c->name, "raw") == 0)
				has_raw = true;
			first = false;
		}
		/* Fields the profile adds beyond the canonical columns. */
		foreach(cc, t->fields)
		{
			ScalerFieldSpec *f = (ScalerFieldSpec *) lfirst(cc);
			ListCell   *k;
			bool		known = false;
			const char *type = f->sql_type ? f->sql_type : f->format != FMT_AUTO ? "timestamptz" : "text";

			foreach(k, canon)
				if (strcmp(((CanonicalColumn *) lfirst(k))->name, f->column) == 0)
					known = true;
			if (known)
				continue;
			foreach(k, typed)
				if (!f->sql_type && strcmp(((CanonicalColumn *) lfirst(k))->name, f->column) == 0)
					type = ((CanonicalColumn *) lfirst(k))->type;
			appendStringInfo(&cmd, "%s\n  %s %s", first ? "" : ",", quote_identifier(f->column), type);
			first = false;
		}
		if (!has_raw)
			appendStringInfo(&cmd, "%s\n  raw jsonb OPTIONS (json_path '$')", first ? "" : ",");
		appendStringInfo(&cmd, "\n) SERVER %s OPTIONS (table %s)",
						 quote_identifier(srv.servername), quote_literal_cstr(t->name));
		commands = lappend(commands, cmd.data);
	}
	return commands;
}

PG_FUNCTION_INFO_V1(scaler_profile_tables);

/*
 * scaler.profile_tables(server): the tables of a server's profile (its
 * environment and override applied) as the connection check needs them:
 * parent, path variables, filter columns by kind, pagination and page size.
 */
Datum
scaler_profile_tables(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *server_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ForeignServer *server = GetForeignServerByName(server_name, false);
	ScalerServerOptions opts;
	ListCell   *lc;
	static const char *const pagination_names[] = {"none", "next_url", "link_header", "page",
	"offset", "cursor", "next_link"};

	InitMaterializedSRF(fcinfo, 0);
	scaler_get_server_options(server->serverid, InvalidOid, &opts);
	if (opts.profile == NULL)
		return (Datum) 0;

	foreach(lc, opts.profile->tables)
	{
		ScalerTableSpec *t = (ScalerTableSpec *) lfirst(lc);
		ArrayBuildState *param_cols = initArrayResult(TEXTOID, CurrentMemoryContext, true);
		ArrayBuildState *path_cols = initArrayResult(TEXTOID, CurrentMemoryContext, true);
		ArrayBuildState *range_cols = initArrayResult(TEXTOID, CurrentMemoryContext, true);
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};
		ListCell   *fc;

		if (t->internal)
			continue;

		foreach(fc, t->filters)
		{
			ScalerFilterSpec *f = (ScalerFilterSpec *) lfirst(fc);
			ArrayBuildState *into = f->kind == FILTER_PARAM ? param_cols :
				f->kind == FILTER_PATH_VAR ? path_cols : range_cols;

			accumArrayResult(into, CStringGetTextDatum(f->column), false, TEXTOID, CurrentMemoryContext);
		}
		values[0] = CStringGetTextDatum(t->name);
		values[1] = t->parent_table ? CStringGetTextDatum(t->parent_table) : (Datum) 0;
		nulls[1] = t->parent_table == NULL;
		values[2] = makeArrayResult(param_cols, CurrentMemoryContext);
		values[3] = makeArrayResult(path_cols, CurrentMemoryContext);
		values[4] = makeArrayResult(range_cols, CurrentMemoryContext);
		values[5] = CStringGetTextDatum(pagination_names[t->pagination.kind]);
		values[6] = Int32GetDatum(t->pagination.size);
		nulls[6] = t->pagination.size <= 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
