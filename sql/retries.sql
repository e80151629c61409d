-- Retries, backoff, Retry-After, rate budgets and allowed hosts.
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
\getenv provider_url PROVIDER_URL

-- short waits keep the suite fast; the rules are the same with long ones
CREATE SERVER provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url', max_retries '3', max_retry_wait '200ms');
CREATE FOREIGN TABLE c (meter_id text, value numeric OPTIONS (json_path 'consumption'))
  SERVER provider
  OPTIONS (endpoint '/consumption?page_size=200', records_path 'results', pagination 'next_url');

-- a burst of 5xx, then success: the query succeeds, EXPLAIN ANALYZE counts the retries
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/run=burst/fault=500/faultn=2/consumption?page_size=2000');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM c;
-- a run of 429s with Retry-After: 0, then success
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/run=throttle/fault=429/faultn=3/retry=0/consumption?page_size=2000');
SELECT count(*), sum(value) FROM c;
-- 503 with Retry-After, 502, 504 and connection resets are retried too
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/run=r503/fault=503/faultn=1/retry=0/consumption?page_size=2000');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/run=r502/fault=502/faultn=3/consumption?page_size=2000');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/run=reset/fault=reset/faultn=2/consumption?page_size=2000');
SELECT count(*) FROM c;
-- a stalled response that ends in request_timeout is retried
ALTER SERVER provider OPTIONS (ADD request_timeout '300ms');
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/run=stall/fault=stall/faultn=1/stall=5/consumption?page_size=2000');
SELECT count(*) FROM c;
ALTER SERVER provider OPTIONS (DROP request_timeout);
-- the provider saw exactly the attempts we claim
CREATE FOREIGN TABLE stats (requests int, max_per_second int, statuses jsonb)
  SERVER provider OPTIONS (endpoint '/_stats', records_path 'runs.throttle');
SELECT requests, statuses FROM stats;

-- permanent failures: an ERROR that says how many attempts were made
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=500/consumption');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=429/retry=0/consumption');
SELECT count(*) FROM c;
\set VERBOSITY terse
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=reset/consumption');
SELECT count(*) FROM c;
\set VERBOSITY default
-- a Retry-After longer than max_retry_wait fails at once instead of hanging
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/run=long/fault=429/retry=3600/consumption');
SELECT count(*) FROM c;
-- 4xx other than 408/425/429 is not retried
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/run=four/consumption?from=yesterday');
SELECT count(*) FROM c;
ALTER FOREIGN TABLE stats OPTIONS (SET records_path 'runs.four');
SELECT requests FROM stats;
-- max_retries 0: one attempt only
ALTER SERVER provider OPTIONS (SET max_retries '0');
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/run=once/fault=500/faultn=1/consumption');
SELECT count(*) FROM c;
ALTER SERVER provider OPTIONS (SET max_retries '3');

-- option values
ALTER SERVER provider OPTIONS (ADD rate_limit 'fast');
ALTER SERVER provider OPTIONS (ADD rate_limit '0');
ALTER SERVER provider OPTIONS (ADD rate_limit '10/day');
ALTER SERVER provider OPTIONS (SET max_retry_wait 'forever');

-- a rate budget without shared_preload_libraries: one NOTICE, then per backend
ALTER SERVER provider OPTIONS (ADD rate_limit '600/min', ADD rate_burst '50');
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/consumption?page_size=200');
SELECT count(*) FROM c;
SELECT count(*) FROM c;
-- the daily budget is a clear error, not an empty result
ALTER SERVER provider OPTIONS (ADD daily_limit '12');
SELECT count(*) FROM c;
SELECT count(*) FROM c;
SELECT count(*) FROM c;
ALTER SERVER provider OPTIONS (DROP daily_limit, DROP rate_limit, DROP rate_burst);

-- scaler_fdw.allowed_hosts: superuser-only, checked at CREATE SERVER and for every request
SET scaler_fdw.allowed_hosts = 'api.example.com, *.octopus.energy';
SELECT count(*) FROM c;
CREATE SERVER elsewhere FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'https://evil.example.org/');
CREATE SERVER octopus FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'https://api.octopus.energy/v1');
SET scaler_fdw.allowed_hosts = '127.0.0.1';
SELECT count(*) FROM c;
SET scaler_fdw.allowed_hosts = 'bad host!';
RESET scaler_fdw.allowed_hosts;
CREATE ROLE scaler_retry_user;
SET ROLE scaler_retry_user;
SET scaler_fdw.allowed_hosts = '*';
RESET ROLE;
DROP ROLE scaler_retry_user;

-- redirects are followed by the extension itself, with the same checks
ALTER FOREIGN TABLE c OPTIONS (SET endpoint '/fault=redirect/to=file/consumption');
SELECT count(*) FROM c;

-- X-RateLimit-Remaining: 0 pauses the server until X-RateLimit-Reset, so the
-- provider's limit of 4 requests a second is never hit
CREATE SERVER limited FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'provider_url');
CREATE FOREIGN TABLE rl (meter_id text) SERVER limited
  OPTIONS (endpoint '/run=rl/fault=ratelimit/rps=4/consumption?page_size=100',
           records_path 'results', pagination 'next_url');
SELECT count(*) FROM rl;
ALTER FOREIGN TABLE stats OPTIONS (SET records_path 'runs.rl');
SELECT requests, statuses FROM stats;

DROP SERVER provider, octopus, limited CASCADE;
