-- scaler_fdw demo: a provider's API as SQL tables, end to end.
-- The bundled provider (test/provider_server.py) serves 5 buildings with
-- 4 meters each (electricity, gas, water, heat) and a year of daily readings.
\set ON_ERROR_STOP on
SET timezone = 'UTC';
\getenv provider_url PROVIDER_URL

-- 1. The extension, a server for the provider, and its credentials.
--    Credentials live only in the user mapping.
CREATE EXTENSION scaler_fdw;
CREATE SERVER demo_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url', auth 'bearer', request_timeout '30s');
CREATE USER MAPPING FOR CURRENT_USER SERVER demo_provider
  OPTIONS (token 'tok-9b81c4');

-- 2. Foreign tables for assets, meters and consumption. Each follows the
--    provider's next-page URLs; columns map to JSON fields by json_path.
CREATE SCHEMA provider;
CREATE FOREIGN TABLE provider.assets (
  asset_id text, name text, address text, city text, postcode text, country text,
  floor_area numeric, floor_area_unit text
) SERVER demo_provider
  OPTIONS (endpoint '/auth=bearer/assets', records_path 'results', pagination 'next_url');

CREATE FOREIGN TABLE provider.meters (
  meter_id text, asset_id text, name text, serial_number text,
  resource text, unit text, is_active boolean
) SERVER demo_provider
  OPTIONS (endpoint '/auth=bearer/meters', records_path 'results', pagination 'next_url');

CREATE FOREIGN TABLE provider.consumption (
  meter_id text,
  period_start timestamptz OPTIONS (json_path 'interval_start'),
  period_end timestamptz OPTIONS (json_path 'interval_end'),
  value numeric OPTIONS (json_path 'consumption'),
  unit text,
  is_estimated boolean OPTIONS (json_path 'estimated'),
  raw jsonb OPTIONS (json_path '$')
) SERVER demo_provider
  OPTIONS (endpoint '/auth=bearer/consumption?page_size=1000', records_path 'results',
           pagination 'next_url');

-- 3. Query them like any table.
SELECT asset_id, name, city, country, floor_area, floor_area_unit
  FROM provider.assets ORDER BY asset_id;

SELECT meter_id, asset_id, resource, unit, is_active
  FROM provider.meters ORDER BY meter_id;

-- 4. Monthly consumption per building and resource, straight from the API
--    (first quarter of building A0001).
SELECT m.asset_id, m.resource, c.unit,
       to_char(date_trunc('month', c.period_start), 'YYYY-MM') AS month,
       count(*) AS readings,
       round(sum(c.value), 3) AS total,
       count(*) FILTER (WHERE c.is_estimated) AS estimated
  FROM provider.consumption c
  JOIN provider.meters m USING (meter_id)
 WHERE m.asset_id = 'A0001' AND c.period_start < '2025-04-01'
 GROUP BY 1, 2, 3, 4
 ORDER BY 1, 2, 4;

-- 5. What the scan did: the request, pages, bytes.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*) FROM provider.consumption;
