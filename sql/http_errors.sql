-- HTTP and payload failures become clear errors, never empty results.
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
\getenv provider_url PROVIDER_URL

-- no retries here: this suite is about the errors themselves (see retries.sql)
CREATE SERVER provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url', max_retries '0');
CREATE FOREIGN TABLE c (meter_id text, value numeric OPTIONS (json_path 'consumption'),
                        period_start timestamptz OPTIONS (json_path 'interval_start'))
  SERVER provider
  OPTIONS (endpoint '/consumption?page_size=50', records_path 'results', pagination 'next_url');

-- HTTP 5xx: status, body excerpt and hint
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=500/consumption');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=503/retry=7/consumption');
SELECT count(*) FROM c;
-- 429 is not an empty result
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=429/consumption');
SELECT count(*) FROM c;
-- 404
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/consumptions');
SELECT count(*) FROM c;

-- payload problems
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=malformed/consumption');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=wrongtype/consumption');
SELECT sum(value) FROM c;
-- a column the query does not read is not converted
SELECT count(meter_id) FROM c;
SELECT min(period_start) FROM c;
-- on_conversion_error 'null': such values are NULL, and one NOTICE counts them
ALTER SERVER provider OPTIONS (ADD on_conversion_error 'null');
SELECT count(*), count(value), count(period_start), sum(value) FROM c;
ALTER SERVER provider OPTIONS (SET on_conversion_error 'nil');
ALTER SERVER provider OPTIONS (DROP on_conversion_error);
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/consumption', SET records_path 'data');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (SET records_path 'count');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (SET records_path 'results.meter_id');
SELECT count(*) FROM c;

-- limits
ALTER FOREIGN TABLE c OPTIONS (SET records_path 'results', SET endpoint '/consumption?page_size=100', ADD max_pages '3');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (DROP max_pages);
ALTER SERVER provider OPTIONS (ADD max_response_size '10kB');
SELECT count(*) FROM c;
ALTER SERVER provider OPTIONS (DROP max_response_size);

-- transport failures (terse: libcurl's detail carries timings)
\set VERBOSITY terse
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=truncate/consumption');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=reset/consumption');
SELECT count(*) FROM c;
CREATE SERVER closed FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'http://127.0.0.1:1/api');
CREATE FOREIGN TABLE c_closed (meter_id text) SERVER closed OPTIONS (endpoint '/meters');
SELECT count(*) FROM c_closed;
\set VERBOSITY default

-- redirects: followed within http(s), refused to anything else
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=redirect/to=http/consumption');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=redirect/to=file/consumption');
SELECT count(*) FROM c;

-- compressed responses are accepted and decoded
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/gzip=1/consumption?page_size=200');
SELECT count(*), sum(value) FROM c;

-- the backend's connections are still good after all of that
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/consumption?page_size=200');
SELECT count(*) FROM c;

DROP SERVER provider, closed CASCADE;
