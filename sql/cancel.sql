-- statement_timeout and request_timeout end a stalled request promptly; the
-- backend stays usable.  (pg_cancel_backend timing is in test/t/001_cancel.pl.)
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
\getenv provider_url PROVIDER_URL

-- no retries: a timed-out attempt would otherwise be tried again (see retries.sql)
CREATE SERVER provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url', max_retries '0');
-- the provider sends headers and 20 bytes, then stalls for 60 s
CREATE FOREIGN TABLE stalled (meter_id text) SERVER provider
  OPTIONS (endpoint '/fault=stall/stall=60/consumption', records_path 'results');
-- the provider accepts the request and says nothing for 60 s
CREATE FOREIGN TABLE silent (meter_id text) SERVER provider
  OPTIONS (endpoint '/fault=stallhead/stall=60/consumption', records_path 'results');
CREATE FOREIGN TABLE healthy (meter_id text) SERVER provider
  OPTIONS (endpoint '/consumption?page_size=500', records_path 'results',
           pagination 'next_url');

SET statement_timeout = '300ms';
SELECT count(*) FROM stalled;
SELECT count(*) FROM silent;
RESET statement_timeout;
SELECT count(*) FROM healthy;

-- request_timeout ends a stalled transfer (terse: libcurl's detail has timings)
\set VERBOSITY terse
ALTER SERVER provider OPTIONS (ADD request_timeout '500ms');
SELECT count(*) FROM stalled;
SELECT count(*) FROM silent;
\set VERBOSITY default
ALTER SERVER provider OPTIONS (DROP request_timeout);
SELECT count(*) FROM healthy;

-- a cancel inside a transaction leaves the transaction usable after rollback
BEGIN;
SET LOCAL statement_timeout = '200ms';
SELECT count(*) FROM stalled;
ROLLBACK;
SELECT count(*) FROM healthy;

DROP SERVER provider CASCADE;
