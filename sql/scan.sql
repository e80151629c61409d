-- A real foreign scan over the local provider server (test/provider_server.py,
-- default portfolio: 3 assets x 4 meters x 90 daily readings = 1080 readings).
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
\getenv provider_url PROVIDER_URL

CREATE SERVER provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url');

-- the provider's request log, read through the wrapper itself
CREATE FOREIGN TABLE request_log (
  seq int, method text, path text, prefix text, query jsonb,
  accept text OPTIONS (json_path 'headers.accept'),
  user_agent text OPTIONS (json_path 'headers.user-agent'),
  status text
) SERVER provider OPTIONS (endpoint '/_requests?run=scan');

-- next-URL pagination, 25 readings a page: 44 pages
CREATE FOREIGN TABLE consumption (
  meter_id text,
  period_start timestamptz OPTIONS (json_path 'interval_start'),
  period_end timestamptz OPTIONS (json_path 'interval_end'),
  value numeric OPTIONS (json_path 'consumption'),
  unit text,
  is_estimated boolean OPTIONS (json_path 'estimated'),
  missing text OPTIONS (json_path 'no_such_field'),
  raw jsonb OPTIONS (json_path '$')
) SERVER provider
  OPTIONS (endpoint '/run=scan/consumption?page_size=25', records_path 'results',
           pagination 'next_url');

SELECT count(*), count(DISTINCT meter_id) AS meters, sum(value), min(period_start),
       max(period_end), count(*) FILTER (WHERE is_estimated) AS estimated,
       count(missing) AS missing
  FROM consumption;
-- every page was requested once, in order, with our headers
SELECT count(*) AS requests, count(DISTINCT query->>'page') AS pages,
       min(accept) AS accept, min(user_agent) AS user_agent
  FROM request_log WHERE path = '/consumption';
-- typed columns, and the raw record as jsonb
SELECT pg_typeof(meter_id), pg_typeof(period_start), pg_typeof(value),
       pg_typeof(is_estimated), pg_typeof(raw)
  FROM consumption LIMIT 1;
SELECT meter_id, period_start, period_end, value, unit, is_estimated, raw
  FROM consumption WHERE meter_id = 'M00003' ORDER BY period_start LIMIT 3;
-- a monthly aggregate per meter
SELECT meter_id, unit, date_trunc('month', period_start AT TIME ZONE 'UTC') AS month,
       count(*) AS readings, sum(value) AS total
  FROM consumption
 WHERE meter_id IN ('M00001', 'M00002')
 GROUP BY 1, 2, 3 ORDER BY 1, 3;

-- rows stream: LIMIT stops the scan after the first page
CREATE FOREIGN TABLE consumption_stream (meter_id text)
  SERVER provider
  OPTIONS (endpoint '/run=stream/consumption?page_size=10', records_path 'results',
           pagination 'next_url');
SELECT meter_id FROM consumption_stream LIMIT 3;
CREATE FOREIGN TABLE stream_log (seq int, path text) SERVER provider
  OPTIONS (endpoint '/_requests?run=stream');
SELECT count(*) AS requests_for_limit_3 FROM stream_log;

-- EXPLAIN shows the request; ANALYZE adds requests, pages and bytes
EXPLAIN (COSTS OFF)
  SELECT meter_id FROM consumption WHERE value > 500;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT meter_id FROM consumption WHERE value > 500;

-- rescan: the inner side of a nested loop is scanned again per outer row
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT v.m, c.n
  FROM (VALUES ('M00001'), ('M00007'), ('M99999')) v(m),
       LATERAL (SELECT count(*) AS n FROM consumption c WHERE c.meter_id = v.m) c
 ORDER BY 1;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- RFC 8288 Link header pagination, body is a bare array
CREATE FOREIGN TABLE meters_link (meter_id text, asset_id text, resource text,
                                  unit text, is_active boolean)
  SERVER provider
  OPTIONS (endpoint '/pages=link/meters?per_page=5', pagination 'link_header');
SELECT count(*), count(DISTINCT asset_id), string_agg(DISTINCT resource, ',' ORDER BY resource),
       count(*) FILTER (WHERE NOT is_active) AS inactive
  FROM meters_link;

-- records at a nested path, one page, numeric and text columns
CREATE FOREIGN TABLE assets (asset_id text, name text, city text, country text,
                             floor_area numeric, floor_area_unit text)
  SERVER provider
  OPTIONS (endpoint '/pages=offset/assets?limit=100', records_path 'items');
SELECT * FROM assets ORDER BY asset_id;

-- a single object where records are expected is one record
CREATE FOREIGN TABLE one_asset (asset_id text, name text) SERVER provider
  OPTIONS (endpoint '/assets/A0002', records_path '$');
SELECT * FROM one_asset;

-- authentication styles, credentials from user mappings only
CREATE SERVER p_bearer FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url', auth 'bearer');
CREATE USER MAPPING FOR CURRENT_USER SERVER p_bearer OPTIONS (token 'tok-9b81c4');
CREATE FOREIGN TABLE m_bearer (meter_id text) SERVER p_bearer
  OPTIONS (endpoint '/auth=bearer/meters', records_path 'results', pagination 'next_url');
SELECT count(*) FROM m_bearer;

CREATE SERVER p_basic FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url', auth 'basic');
CREATE USER MAPPING FOR CURRENT_USER SERVER p_basic
  OPTIONS (username 'demo-user', password 'pw-51d2e8');
CREATE FOREIGN TABLE m_basic (meter_id text) SERVER p_basic
  OPTIONS (endpoint '/auth=basic/meters', records_path 'results', pagination 'next_url');
SELECT count(*) FROM m_basic;
-- the API key as username with an empty password
ALTER USER MAPPING FOR CURRENT_USER SERVER p_basic
  OPTIONS (DROP username, DROP password, ADD api_key 'key-7f3a9c');
SELECT count(*) FROM m_basic;

CREATE SERVER p_key FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url', auth 'api_key', api_key_name 'X-API-Key');
CREATE USER MAPPING FOR CURRENT_USER SERVER p_key OPTIONS (api_key 'key-7f3a9c');
CREATE FOREIGN TABLE m_key (meter_id text) SERVER p_key
  OPTIONS (endpoint '/auth=header/meters', records_path 'results', pagination 'next_url');
SELECT count(*) FROM m_key;
-- in the query string; next-page URLs keep working
ALTER SERVER p_key OPTIONS (SET api_key_name 'api_key', ADD api_key_in 'query');
ALTER FOREIGN TABLE m_key OPTIONS (SET endpoint '/auth=query/meters?page_size=5');
SELECT count(*) FROM m_key;
EXPLAIN (COSTS OFF) SELECT * FROM m_key;

-- an absolute endpoint on another origin gets no credentials: the provider
-- (the same one, reached as "localhost") refuses, and its log shows no token
\set elsewhere_url `echo "$PROVIDER_URL" | sed 's/127.0.0.1/localhost/'`/run=elsewhere/auth=bearer/meters
CREATE FOREIGN TABLE m_elsewhere (meter_id text) SERVER p_bearer
  OPTIONS (endpoint :'elsewhere_url', records_path 'results');
DO $$
BEGIN
  PERFORM count(*) FROM m_elsewhere;
EXCEPTION WHEN invalid_authorization_specification THEN
  RAISE NOTICE '%', regexp_replace(SQLERRM, ':[0-9]+/', ':PORT/');
END
$$;
CREATE FOREIGN TABLE elsewhere_log (path text, status text,
                                    auth_header text OPTIONS (json_path 'headers.authorization'))
  SERVER provider OPTIONS (endpoint '/_requests?run=elsewhere');
SELECT path, status, auth_header FROM elsewhere_log;

-- wrong credentials: the status, a body excerpt, a hint, and no secret
ALTER USER MAPPING FOR CURRENT_USER SERVER p_bearer OPTIONS (SET token 'tok-wrong-0000');
SELECT count(*) FROM m_bearer;

DROP SERVER provider, p_bearer, p_basic, p_key CASCADE;
