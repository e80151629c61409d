/* scaler_fdw--0.1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION scaler_fdw" to load this file. \quit

CREATE FUNCTION @extschema@.fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'scaler_fdw_handler'
LANGUAGE C STRICT;

CREATE FUNCTION @extschema@.fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_fdw_validator'
LANGUAGE C STRICT;

-- USAGE on the wrapper is not granted to PUBLIC: a superuser grants it to
-- the roles that may create servers.
CREATE FOREIGN DATA WRAPPER scaler_fdw
  HANDLER @extschema@.fdw_handler
  VALIDATOR @extschema@.fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER scaler_fdw IS
  'Provider REST APIs (assets, meters, consumption) as foreign tables';

-- ===== provider profiles =====

-- The built-in provider profiles (profiles/*.json in the source tree).
CREATE FUNCTION @extschema@.builtin_profiles(OUT name text, OUT document jsonb)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'scaler_builtin_profiles'
LANGUAGE C STRICT STABLE;

CREATE VIEW @extschema@.provider_profiles AS
  SELECT name, document->>'description' AS description,
         ARRAY(SELECT jsonb_object_keys(document->'tables')) AS tables,
         document
    FROM @extschema@.builtin_profiles();
COMMENT ON VIEW @extschema@.provider_profiles IS
  'Built-in provider profiles: use one with CREATE SERVER ... OPTIONS (provider ''name'')';

-- The canonical tables: the contract that mapping and sync rely on.
-- IMPORT FOREIGN SCHEMA creates these columns for every profile table of
-- the same name, and the event trigger below sets their comments.
CREATE TABLE @extschema@.canonical_columns (
  table_name  text NOT NULL,
  position    int NOT NULL,
  column_name text NOT NULL,
  data_type   text NOT NULL,
  json_path   text,
  description text NOT NULL,
  PRIMARY KEY (table_name, column_name),
  UNIQUE (table_name, position)
);
COMMENT ON TABLE @extschema@.canonical_columns IS
  'Columns of the canonical foreign tables assets, meters and consumption';

INSERT INTO @extschema@.canonical_columns VALUES
  ('assets', 1, 'asset_id', 'text', NULL, 'The provider''s identifier of the asset (building, site, property)'),
  ('assets', 2, 'name', 'text', NULL, 'Name of the asset'),
  ('assets', 3, 'address', 'text', NULL, 'Street address'),
  ('assets', 4, 'city', 'text', NULL, 'City or town'),
  ('assets', 5, 'postcode', 'text', NULL, 'Postal code'),
  ('assets', 6, 'country', 'text', NULL, 'Country, as the provider writes it (ISO 3166 alpha-2 where it can)'),
  ('assets', 7, 'floor_area', 'numeric', NULL, 'Gross floor area, in floor_area_unit'),
  ('assets', 8, 'floor_area_unit', 'text', NULL, 'Unit of floor_area (m2, ft2)'),
  ('assets', 9, 'raw', 'jsonb', '$', 'The provider''s whole record, as received'),
  ('meters', 1, 'meter_id', 'text', NULL, 'The provider''s identifier of the meter (unique within the provider)'),
  ('meters', 2, 'asset_id', 'text', NULL, 'The asset the meter belongs to'),
  ('meters', 3, 'name', 'text', NULL, 'Name or description of the meter'),
  ('meters', 4, 'serial_number', 'text', NULL, 'Serial number of the physical meter'),
  ('meters', 5, 'resource', 'text', NULL, 'electricity, gas, water, heat, cooling, steam, oil, waste or other'),
  ('meters', 6, 'unit', 'text', NULL, 'Unit of the meter''s readings, as the provider names it'),
  ('meters', 7, 'is_active', 'boolean', NULL, 'Whether the provider reports the meter as active'),
  ('meters', 8, 'raw', 'jsonb', '$', 'The provider''s whole record, as received'),
  ('consumption', 1, 'meter_id', 'text', NULL, 'The meter the reading belongs to'),
  ('consumption', 2, 'period_start', 'timestamptz', NULL, 'Start of the period (inclusive)'),
  ('consumption', 3, 'period_end', 'timestamptz', NULL, 'End of the period (exclusive)'),
  ('consumption', 4, 'value', 'numeric', NULL, 'Consumption over the period (or the register reading), in unit'),
  ('consumption', 5, 'unit', 'text', NULL, 'Unit of value, as the provider names it'),
  ('consumption', 6, 'reading_type', 'text', NULL, 'interval, bill or register'),
  ('consumption', 7, 'is_estimated', 'boolean', NULL, 'Whether the provider marks the value as estimated'),
  ('consumption', 8, 'raw', 'jsonb', '$', 'The provider''s whole record, as received');

-- IMPORT FOREIGN SCHEMA may only create tables; this sets their comments.
CREATE FUNCTION @extschema@.comment_imported_tables()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  cmd record;
  col record;
BEGIN
  FOR cmd IN
    SELECT c.objid::regclass AS rel, ft.ftoptions
      FROM pg_event_trigger_ddl_commands() c
      JOIN pg_foreign_table ft ON ft.ftrelid = c.objid
      JOIN pg_foreign_server s ON s.oid = ft.ftserver
      JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
     WHERE c.object_type = 'foreign table' AND w.fdwname = 'scaler_fdw'
  LOOP
    FOR col IN
      SELECT cc.column_name, cc.description
        FROM @extschema@.canonical_columns cc
        JOIN pg_attribute a ON a.attrelid = cmd.rel AND a.attname = cc.column_name
       WHERE cc.table_name = (SELECT option_value FROM pg_options_to_table(cmd.ftoptions)
                               WHERE option_name = 'table')
    LOOP
      EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', cmd.rel, col.column_name, col.description);
    END LOOP;
  END LOOP;
END
$fn$;

CREATE EVENT TRIGGER scaler_fdw_import_comments ON ddl_command_end
  WHEN TAG IN ('IMPORT FOREIGN SCHEMA')
  EXECUTE FUNCTION @extschema@.comment_imported_tables();
