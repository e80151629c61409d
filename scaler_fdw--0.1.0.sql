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
