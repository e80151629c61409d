-- scaler_fdw demo: a provider's API as SQL tables, end to end.
-- The bundled provider (test/provider_server.py) serves 5 buildings with
-- 4 meters each (electricity, gas, water, heat) and a year of daily readings.
\set ON_ERROR_STOP on
SET timezone = 'UTC';
\getenv provider_url PROVIDER_URL

-- 1. The extension and its built-in provider profiles.
CREATE EXTENSION scaler_fdw CASCADE;
SELECT name, tables FROM scaler.provider_profiles ORDER BY name;

-- 2. A server for the provider (the generic profile, Bearer auth), and its
--    credentials: credentials live only in the user mapping.
CREATE SERVER demo_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'provider_url', auth 'bearer',
           profile_override '{"tables": {"consumption": {"request": {"path": "/auth=bearer/consumption"}},
                                         "meters": {"request": {"path": "/auth=bearer/meters"}},
                                         "assets": {"request": {"path": "/auth=bearer/assets"}}}}');
CREATE USER MAPPING FOR CURRENT_USER SERVER demo_provider OPTIONS (token 'tok-9b81c4');

-- 3. The canonical tables, from the profile.
CREATE SCHEMA provider;
IMPORT FOREIGN SCHEMA provider FROM SERVER demo_provider INTO provider;
\d provider.consumption

-- 3b. Preparation in two calls: is the API reachable, are the credentials
--     right, does paging work, does the API apply each filter we would push?
--     And what does its data look like against Scaler's checklist?
SELECT check_name, table_name, status, http_status, message
  FROM scaler.check_connection('demo_provider');
SELECT heading, item, status, value, detail
  FROM scaler.readiness_report('demo_provider', 5)
 WHERE heading IN ('units', 'granularity', 'consumption data', 'sync budget');

-- 4. Query them like any table.
SELECT asset_id, name, city, country, floor_area, floor_area_unit
  FROM provider.assets ORDER BY asset_id;
SELECT meter_id, asset_id, resource, unit, is_active
  FROM provider.meters WHERE asset_id IN ('A0001', 'A0002') ORDER BY meter_id;

-- 5. Quals go to the API: one meter, one month is one request.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT * FROM provider.consumption
   WHERE meter_id = 'M00001' AND period_start >= '2025-03-01' AND period_start < '2025-04-01';

-- 6. Monthly energy per building in kWh, converted exactly (heat is metered
--    in MWh); gas in m3 converted with the UK billing formula at 39.5 MJ/m3.
SELECT m.asset_id,
       to_char(date_trunc('month', c.period_start), 'YYYY-MM') AS month,
       round(sum(scaler.convert(c.value, c.unit, 'kWh'))
               FILTER (WHERE m.resource IN ('electricity', 'heat')), 1) AS electricity_and_heat_kwh,
       round(sum(scaler.uk_gas_kwh(c.value, c.unit, 39.5)) FILTER (WHERE m.resource = 'gas'), 1) AS gas_kwh,
       round(sum(c.value) FILTER (WHERE m.resource = 'water'), 3) AS water_m3
  FROM provider.consumption c
  JOIN provider.meters m USING (meter_id)
 WHERE m.asset_id = 'A0001' AND c.period_start < '2025-07-01'
 GROUP BY 1, 2
 ORDER BY 1, 2;

-- 7. What the whole-year scan did: requests, pages, bytes.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*) FROM provider.consumption;

-- 8. Scaler's side: its pull API as foreign tables (the Scaler sandbox holds
--    the same five buildings under Scaler's ids), loaded into the catalog the
--    mapping functions check ids against.
\getenv sandbox_url SANDBOX_URL
\set scaler_url :sandbox_url '/v1'
CREATE SERVER scaler_api FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'scaler', base_url :'scaler_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER scaler_api OPTIONS (token 'scaler-tok-4d0e');
CREATE SCHEMA scaler_remote;
IMPORT FOREIGN SCHEMA scaler LIMIT TO (assets, meters) FROM SERVER scaler_api INTO scaler_remote;
SELECT * FROM scaler.refresh_scaler_catalog(meters => 'scaler_remote.meters',
                                            assets => 'scaler_remote.assets');

-- 9. Suggestions: Scaler meters ranked for each provider meter, with the reason.
SELECT external_meter_id, external_name, scaler_meter_id, scaler_name, score, reason
  FROM scaler.suggest_meter_mappings('provider.meters', 'provider.assets', candidates => 1)
 ORDER BY external_meter_id LIMIT 8;

-- 10. The worksheet: one CSV row per unmapped provider meter for people to
--     decide on; here the reviewer accepts every suggestion scoring 0.8 or more.
--     (worksheet.csv is written in the demo's temporary directory)
\copy (SELECT * FROM scaler.mapping_worksheet('demo_provider', 'provider.meters', 'provider.assets')) TO 'worksheet.csv' (FORMAT csv, HEADER)
\! head -4 worksheet.csv
CREATE TEMP TABLE worksheet (LIKE scaler.mapping_worksheet_row);
\copy worksheet FROM 'worksheet.csv' (FORMAT csv, HEADER)
UPDATE worksheet SET decision = CASE WHEN score >= 0.8 THEN 'map' ELSE 'skip' END;
\copy worksheet TO 'worksheet.csv' (FORMAT csv, HEADER)
TRUNCATE worksheet;
\copy worksheet FROM 'worksheet.csv' (FORMAT csv, HEADER)
SELECT * FROM scaler.check_mapping_worksheet('worksheet');
SELECT count(*) AS mapped FROM scaler.import_mapping_worksheet('worksheet');

-- 11. One mapping by hand, with dates: from July, building 1's electricity
--     goes to Scaler in MWh (the mapping until June ends, a new one starts).
SELECT scaler.unmap_meter('demo_provider', 'M00001', ends_on => '2025-06-30');
SELECT external_meter_id, scaler_meter_id, scaler.validity_text(validity), target_unit
  FROM scaler.map_meter('demo_provider', 'M00001', '5001', valid_from => '2025-07-01',
                        target_unit => 'MWh');
SELECT scaler.create_mapped_views('provider', 'demo_provider', 'provider.meters', 'provider.consumption');

-- 12. What BI tools read: consumption with Scaler ids in Scaler's units, quals
--     still reaching the API, and how far mapping has come.
SELECT scaler_meter_id, external_meter_id, to_char(date_trunc('month', period_start), 'YYYY-MM') AS month,
       round(sum(value), 3) AS value, unit
  FROM provider.mapped_consumption
 WHERE external_meter_id IN ('M00001', 'M00002') AND period_start >= '2025-06-01' AND period_start < '2025-08-01'
 GROUP BY 1, 2, 3, 5 ORDER BY 2, 3;
SELECT meter_id, name, resource FROM provider.unmapped_meters ORDER BY meter_id;
SELECT provider_server, meters_mapped_today, mappings FROM scaler.mapping_report;

-- 13. Sync to Scaler: each mapped meter's readings since the history start,
--     validated, converted to its Scaler meter's unit and delivered to the
--     Scaler sandbox's ingestion API in batches keyed by their content.
SELECT provider_server, sink_server, history_start, lookback, granularity, batch_size
  FROM scaler.configure_sync('demo_provider', 'provider.meters', 'provider.consumption', 'scaler_api',
                             history_start => '2025-01-01');
SELECT status, meters, fetched, new, changed, unchanged, quarantined, delivered, failed
  FROM scaler.sync('demo_provider');

-- 14. Where each meter stands; a second pass fetches only the lookback
--     window and finds nothing new to send.
SELECT external_meter_id, scaler_meter_id, watermark, staged, pending, delivered, last_error
  FROM scaler.sync_status ORDER BY external_meter_id, watermark LIMIT 6;
SELECT status, fetched, new, changed, unchanged, delivered FROM scaler.sync('demo_provider');
SELECT run_id, status, meters, fetched, new, delivered, finished_at - started_at AS took
  FROM scaler.sync_run ORDER BY run_id;

-- 15. Scaler's go-live check, "values in Scaler match the source": per meter
--     and month, the provider's total, what was delivered, and what Scaler
--     reports through its own pull API.
IMPORT FOREIGN SCHEMA scaler LIMIT TO (readings) FROM SERVER scaler_api INTO scaler_remote;
SELECT status, count(*) AS meter_months
  FROM scaler.reconcile('demo_provider', '2025-01-01', '2026-01-01', 'scaler_remote.readings')
 GROUP BY status;
SELECT scaler_meter_id, month, unit, provider_total, delivered_total, scaler_total, status
  FROM scaler.reconcile('demo_provider', '2025-05-01', '2025-09-01', 'scaler_remote.readings')
 WHERE external_meter_id = 'M00001';
