-- The built-in provider profiles against the provider server's reproductions
-- of each provider's documented API (test/provider_server.py).
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
\getenv provider_url PROVIDER_URL
SET timezone = 'UTC';
\set uapi_url :provider_url '/utilityapi/api/v2'
\set enode_url :provider_url '/enode'
\set enode_override '{"auth": {"token_url": "' :provider_url '/enode-oauth/oauth2/token"}}'

SELECT name, tables, description FROM scaler.provider_profiles ORDER BY name;

-- ---------- UtilityAPI ----------
-- the profile asks for 1 request a second, as UtilityAPI does; the test server allows more
CREATE SERVER uapi FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'utilityapi', base_url :'uapi_url', rate_limit '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER uapi OPTIONS (token 'uapi-tok-91c2');
CREATE SCHEMA uapi;
IMPORT FOREIGN SCHEMA utilityapi FROM SERVER uapi INTO uapi;
SELECT c.relname, string_agg(a.attname, ', ' ORDER BY a.attnum) AS columns
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'uapi'::regnamespace GROUP BY 1 ORDER BY 1;
SELECT resource, unit, count(*), bool_and(is_active) AS active, min(utility) AS utility
  FROM uapi.meters GROUP BY 1, 2 ORDER BY 1;
SELECT meter_id ~ '^[0-9]+$' AS numeric_looking, pg_typeof(meter_id) FROM uapi.meters LIMIT 1;
-- readings nest three deep: intervals[].readings[].datapoints[]
SELECT m.resource, count(*), count(DISTINCT c.meter_id) AS meters, min(c.unit) AS unit,
       min(c.period_start), max(c.period_end), round(sum(c.value), 3) AS total
  FROM uapi.consumption c JOIN uapi.meters m USING (meter_id)
 GROUP BY 1 ORDER BY 1;
-- one meter and a date range: no meter listing, start/end pushed
SELECT meter_id AS one_meter FROM uapi.meters WHERE resource = 'gas' ORDER BY meter_id LIMIT 1 \gset
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT * FROM uapi.consumption
   WHERE meter_id = :'one_meter' AND period_start >= '2025-02-01' AND period_start < '2025-03-01';
SELECT count(*), min(period_start), max(period_start), min(unit), round(sum(value), 3)
  FROM uapi.consumption
 WHERE meter_id = :'one_meter' AND period_start >= '2025-02-01' AND period_start < '2025-03-01';
-- bills are monthly in the utility's time zone and add up to the intervals
SELECT b.period_start, b.period_end, b.value, b.unit, b.reading_type,
       b.value = (SELECT round(sum(c.value), 3) FROM uapi.consumption c
                   WHERE c.meter_id = b.meter_id AND c.period_start >= b.period_start
                     AND c.period_start < b.period_end) AS matches_intervals
  FROM uapi.bills b WHERE b.meter_id = :'one_meter' ORDER BY 1;

-- ---------- Enode ----------
CREATE SERVER enode FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'enode', base_url :'enode_url', profile_override :'enode_override');
CREATE USER MAPPING FOR CURRENT_USER SERVER enode
  OPTIONS (client_id 'enode-client', client_secret 'enode-secret-5a1b');
CREATE SCHEMA enode;
IMPORT FOREIGN SCHEMA enode FROM SERVER enode INTO enode;
SELECT meter_id ~ '^[0-9a-f-]{36}$' AS uuid, asset_id, name, resource, unit, is_active, vendor
  FROM enode.meters ORDER BY asset_id, name;
SELECT meter_id AS enode_meter FROM enode.meters WHERE asset_id = 'A0002' ORDER BY meter_id LIMIT 1 \gset
SELECT period_start, period_end, value, unit
  FROM enode.consumption
 WHERE meter_id = :'enode_meter' AND period_start >= '2025-01-01' AND period_start < '2025-01-04'
 ORDER BY 1;
SELECT count(*), count(DISTINCT meter_id), sum(value) FROM enode.consumption;
-- wrong client credentials: the token endpoint's refusal, without the secret
-- (a changed user mapping drops the cached token; the port of the token URL is masked)
ALTER USER MAPPING FOR CURRENT_USER SERVER enode OPTIONS (SET client_secret 'enode-wrong');
DO $$
BEGIN
  PERFORM count(*) FROM enode.meters;
EXCEPTION WHEN invalid_authorization_specification THEN
  RAISE NOTICE '%', regexp_replace(SQLERRM, ':[0-9]+/', ':PORT/');
END
$$;

-- ---------- Octopus Energy ----------
\set octo_url :provider_url '/octopus/v1'
CREATE SERVER octopus FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'octopus', base_url :'octo_url', profile_vars '{"account": "A-1B2C3D4E"}');
-- Basic with the API key as username and an empty password
CREATE USER MAPPING FOR CURRENT_USER SERVER octopus OPTIONS (api_key 'sk_live_octo7f3a');
CREATE SCHEMA octopus;
IMPORT FOREIGN SCHEMA octopus FROM SERVER octopus INTO octopus;
SELECT asset_id, name, city, postcode, country FROM octopus.assets ORDER BY asset_id;
-- electricity and gas meter points, from two arrays of one response; a meter
-- point with a replacement meter has two meters
SELECT resource, unit, kind, count(*), count(DISTINCT meter_point) AS points
  FROM octopus.meters GROUP BY 1, 2, 3 ORDER BY 1;
SELECT meter_id ~ '^[0-9]{13}/SN-[0-9]{8}$' AS mpan_and_serial, count(*)
  FROM octopus.meters WHERE resource = 'electricity' GROUP BY 1;
SELECT meter_point, count(*) AS meters FROM octopus.meters GROUP BY 1 HAVING count(*) > 1;
-- consumption per meter point and serial; the times carry London offsets
SELECT meter_id AS octo_meter FROM octopus.meters WHERE resource = 'gas' ORDER BY meter_id LIMIT 1 \gset
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT * FROM octopus.consumption
   WHERE meter_id = :'octo_meter' AND period_start >= '2025-03-28' AND period_start < '2025-04-01';
SELECT period_start, period_end, value, unit FROM octopus.consumption
 WHERE meter_id = :'octo_meter' AND period_start >= '2025-03-28' AND period_start < '2025-04-01'
 ORDER BY 1;
SELECT m.resource, count(*), count(DISTINCT c.meter_id), round(sum(c.value), 3)
  FROM octopus.consumption c JOIN octopus.meters m USING (meter_id) GROUP BY 1 ORDER BY 1;

-- ---------- Scaler's pull API (the Scaler sandbox) ----------
\getenv sandbox_url SANDBOX_URL
\set scaler_url :sandbox_url '/v1'
CREATE SERVER scaler FOREIGN DATA WRAPPER scaler_fdw OPTIONS (provider 'scaler', base_url :'scaler_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER scaler OPTIONS (token 'scaler-tok-4d0e');
CREATE SCHEMA scaler_api;
IMPORT FOREIGN SCHEMA scaler FROM SERVER scaler INTO scaler_api;
SELECT portfolio_id, name FROM scaler_api.portfolios ORDER BY portfolio_id;
SELECT portfolio_id, count(*), min(city) FROM scaler_api.assets GROUP BY 1 ORDER BY 1;
SELECT resource, fuel_type, unit, count(*) FROM scaler_api.meters GROUP BY 1, 2, 3 ORDER BY 1, 2;
SELECT meter_id, asset_id, meter_code, name FROM scaler_api.meters ORDER BY meter_id::int LIMIT 3;
-- Scaler's envelope: records at data.data, pages up to data.last_page
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM scaler_api.meters;
ALTER USER MAPPING FOR CURRENT_USER SERVER scaler OPTIONS (SET token 'wrong');
SELECT count(*) FROM scaler_api.portfolios;

DROP SCHEMA uapi, enode, octopus, scaler_api CASCADE;
DROP SERVER uapi, enode, octopus, scaler CASCADE;
