-- Option validation at every level: wrapper, server, user mapping, foreign
-- table, column.  Every error names the option; credentials live only in
-- user mappings.
CREATE EXTENSION scaler_fdw CASCADE;
SET client_min_messages = warning;

-- everything the extension creates lives in schema scaler; only the wrapper
-- and the event triggers, which belong to no schema, are listed here
SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'scaler_fdw')
   AND pg_describe_object(classid, objid, objsubid) !~ ' scaler\.'
 ORDER BY 1;
-- USAGE on the wrapper is not granted to PUBLIC
SELECT fdwname, fdwacl FROM pg_foreign_data_wrapper WHERE fdwname = 'scaler_fdw';

-- wrapper: takes no options
ALTER FOREIGN DATA WRAPPER scaler_fdw OPTIONS (ADD base_url 'http://127.0.0.1');
ALTER FOREIGN DATA WRAPPER scaler_fdw OPTIONS (ADD colour 'blue');

-- server
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw;
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_ur 'http://127.0.0.1');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'ftp://127.0.0.1/x');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'file:///etc/passwd');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'not a url');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'http://');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', connect_timeout 'soon');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', connect_timeout '0');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', request_timeout '10 parsecs');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', max_response_size '2TB');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', auth 'oauth');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', api_key_name 'X-Key: injected');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', ssl_verify 'maybe');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', ca_file 'certs/ca.pem');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', endpoint '/meters');
-- credentials are refused anywhere but in a user mapping
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', auth 'bearer', token 'tok-in-the-wrong-place');
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1', password 'pw-in-the-wrong-place');
-- none of the refused values above reached the catalog
SELECT count(*) FROM pg_foreign_server WHERE srvname = 's';

-- valid values, including PostgreSQL duration and size syntax
CREATE SERVER s FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'https://api.example.com/v1', auth 'api_key',
           api_key_name 'X-API-Key', api_key_in 'header',
           connect_timeout '5', request_timeout '1min', max_response_size '64MB',
           ssl_verify 'true', ca_file '/etc/ssl/certs/ca-certificates.crt');
ALTER SERVER s OPTIONS (DROP base_url);
ALTER SERVER s OPTIONS (SET request_timeout '-1s');
ALTER SERVER s OPTIONS (SET request_timeout '1500ms');
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 's';

-- turning TLS verification off needs a superuser
CREATE ROLE scaler_opt_user;
GRANT USAGE ON FOREIGN DATA WRAPPER scaler_fdw TO scaler_opt_user;
SET ROLE scaler_opt_user;
CREATE SERVER s_user FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'https://127.0.0.1', ssl_verify 'false');
CREATE SERVER s_user FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'https://127.0.0.1', ssl_verify 'true');
RESET ROLE;
ALTER SERVER s_user OPTIONS (SET ssl_verify 'off');
DROP SERVER s_user;

-- user mapping
CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (api_kye 'k');
CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (base_url 'http://127.0.0.1');
CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (token E'tok\r\nX-Injected: 1');
CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (api_key 'key-for-options-test');

-- foreign table
CREATE FOREIGN TABLE t (meter_id text) SERVER s;
CREATE FOREIGN TABLE t (meter_id text) SERVER s OPTIONS (endpoint '');
CREATE FOREIGN TABLE t (meter_id text) SERVER s OPTIONS (endpoint 'gopher://h/x');
CREATE FOREIGN TABLE t (meter_id text) SERVER s OPTIONS (endpoint '/m', records_path 'data..items');
CREATE FOREIGN TABLE t (meter_id text) SERVER s OPTIONS (endpoint '/m', pagination 'pages');
CREATE FOREIGN TABLE t (meter_id text) SERVER s OPTIONS (endpoint '/m', max_pages '-1');
CREATE FOREIGN TABLE t (meter_id text) SERVER s OPTIONS (endpoint '/m', recordspath 'data');
CREATE FOREIGN TABLE t (meter_id text) SERVER s OPTIONS (endpoint '/m', api_key 'k');
CREATE FOREIGN TABLE t (meter_id text) SERVER s OPTIONS (endpoint '/m', base_url 'http://h');
-- column
CREATE FOREIGN TABLE t (meter_id text OPTIONS (jsonpath 'id')) SERVER s OPTIONS (endpoint '/m');
CREATE FOREIGN TABLE t (meter_id text OPTIONS (json_path '')) SERVER s OPTIONS (endpoint '/m');
CREATE FOREIGN TABLE t (meter_id text OPTIONS (endpoint '/x')) SERVER s OPTIONS (endpoint '/m');
CREATE FOREIGN TABLE t (meter_id text OPTIONS (json_path 'meter.id'), raw jsonb OPTIONS (json_path '$'))
  SERVER s OPTIONS (endpoint '/meters', records_path 'data.items', pagination 'next_url',
                    next_url_path 'links.next', max_pages '100', estimated_rows '5000');
ALTER FOREIGN TABLE t OPTIONS (DROP endpoint);
ALTER FOREIGN TABLE t ALTER COLUMN meter_id OPTIONS (SET json_path '.id');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 't'::regclass;

-- EXPLAIN needs no user mapping and shows no credential
EXPLAIN (COSTS OFF) SELECT * FROM t;

-- a scan needs the credential its server's auth names
ALTER SERVER s OPTIONS (SET auth 'bearer');
SELECT * FROM t;
ALTER SERVER s OPTIONS (SET auth 'basic');
DROP USER MAPPING FOR CURRENT_USER SERVER s;
SELECT * FROM t;

DROP SERVER s CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER scaler_fdw FROM scaler_opt_user;
DROP ROLE scaler_opt_user;
