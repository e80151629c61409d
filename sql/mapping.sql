-- Mapping provider assets and meters to Scaler: the rules the tables keep
-- (docs/mapping.md) and every error of map_* and unmap_*.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
SET client_min_messages = notice;
SET datestyle = 'ISO, YMD';
\set VERBOSITY verbose
-- errors are compared without their source location
\set SHOW_CONTEXT never

CREATE SERVER map_utility FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:9/');
CREATE SERVER map_meters FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:9/');
CREATE FOREIGN DATA WRAPPER map_other_wrapper;
CREATE SERVER map_not_ours FOREIGN DATA WRAPPER map_other_wrapper;

CREATE FUNCTION pg_temp.error(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  m text; d text; h text; s text;
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
                          h = PG_EXCEPTION_HINT;
  RETURN concat_ws(E'\n', s || ': ' || m, nullif('DETAIL: ' || d, 'DETAIL: '),
                   nullif('HINT: ' || h, 'HINT: '));
END
$$;

-- one by one; units and fuels are stored in their canonical spelling
SELECT provider_server, external_meter_id, scaler_meter_id, valid_from, valid_to, validity,
       target_unit, fuel, calorific_value, calorific_value_unit,
       mapped_by = current_user AS by_me, mapped_at = now() AS now
  FROM scaler.map_meter('map_utility', 'E-100', 'SCL-M-1', target_unit => 'kwh');
SELECT external_meter_id, target_unit, fuel, calorific_value, calorific_value_unit
  FROM scaler.map_meter('map_utility', 'G-200', 'SCL-M-2', valid_from => '2024-01-01',
                        target_unit => 'therms', fuel => 'Natural Gas',
                        calorific_value => 39.5, calorific_value_unit => 'MJ/m³');
SELECT external_asset_id, scaler_asset_id, validity
  FROM scaler.map_asset('map_utility', 'BLDG-7', 'SCL-A-1', note => 'Main St office');
-- a Scaler asset may receive assets of several providers
SELECT external_asset_id, scaler_asset_id FROM scaler.map_asset('map_meters', 'site-7', 'SCL-A-1');

-- an external meter maps to at most one Scaler meter on any date
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'E-100', 'SCL-M-9', valid_from => '2025-06-01')$$);
-- a Scaler meter receives at most one external meter on any date
SELECT pg_temp.error($$SELECT scaler.map_meter('map_meters', 'mtr-1', 'SCL-M-2', valid_to => '2024-01-01')$$);
-- the day before is free
SELECT validity FROM scaler.map_meter('map_meters', 'mtr-1', 'SCL-M-2', valid_to => '2023-12-31');
-- an external asset maps to at most one Scaler asset on any date
SELECT pg_temp.error($$SELECT scaler.map_asset('map_utility', 'BLDG-7', 'SCL-A-2', '2020-01-01', '2020-12-31')$$);

-- switching providers: the old mapping ends on X, the new one starts on X+1
SELECT scaler.unmap_meter('map_utility', 'E-100', ends_on => '2025-03-31');
SELECT pg_temp.error($$SELECT scaler.map_meter('map_meters', 'mtr-9', 'SCL-M-1', valid_from => '2025-03-31')$$);
SELECT validity FROM scaler.map_meter('map_meters', 'mtr-9', 'SCL-M-1', valid_from => '2025-04-01');
SELECT provider_server, external_meter_id, scaler_meter_id, scaler.validity_text(validity)
  FROM scaler.meter_mapping ORDER BY scaler_meter_id, lower(validity) NULLS FIRST;

-- the tables keep the rules whoever writes: INSERT and COPY as well
SELECT pg_temp.error($$INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id, valid_from)
                       VALUES ('map_meters', 'mtr-9', 'SCL-M-5', '2030-01-01')$$);
SELECT pg_temp.error($$INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id)
                       VALUES ('map_meters', 'mtr-10', 'SCL-M-2')$$);
SELECT pg_temp.error($$UPDATE scaler.meter_mapping SET valid_from = '2025-03-01' WHERE external_meter_id = 'mtr-9'$$);
SELECT pg_temp.error($$INSERT INTO scaler.asset_mapping (provider_server, external_asset_id, scaler_asset_id, valid_from)
                       VALUES ('map_utility', 'BLDG-7', 'SCL-A-3', '2031-01-01')$$);
COPY scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id, valid_from, target_unit)
  FROM stdin (FORMAT csv);
map_meters,mtr-20,SCL-M-20,2024-01-01,MWh
\.
SELECT pg_temp.error($$COPY scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id) FROM PROGRAM 'printf "map_meters,mtr-21,SCL-M-21\nmap_meters,mtr-21,SCL-M-22\n"' (FORMAT csv)$$);
SELECT count(*) FILTER (WHERE external_meter_id = 'mtr-20') AS copied,
       count(*) FILTER (WHERE external_meter_id = 'mtr-21') AS refused
  FROM scaler.meter_mapping;

-- bad input, each with its own error
SELECT pg_temp.error($$SELECT scaler.map_meter('no_such_server', 'x', 'y')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_not_ours', 'x', 'y')$$);
SELECT pg_temp.error($$SELECT scaler.map_asset('map_not_ours', 'x', 'y')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', NULL, 'y')$$);
SELECT pg_temp.error($$SELECT scaler.map_asset('map_utility', 'x', NULL)$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', '', 'y')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'x', 'y', '2024-02-01', '2024-01-31')$$);
SELECT pg_temp.error($$INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id, valid_from, valid_to)
                       VALUES ('map_utility', 'x', 'y', '2024-02-01', '2024-01-31')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'x', 'y', target_unit => 'kwhh')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'x', 'y', fuel => 'unobtainium')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'x', 'y', calorific_value => 39.5)$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'x', 'y', calorific_value => 0, calorific_value_unit => 'MJ/m3')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'x', 'y', calorific_value => 'NaN', calorific_value_unit => 'MJ/m3')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'x', 'y', calorific_value => 39, calorific_value_unit => 'MJ')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'x', 'y', calorific_value => 39, calorific_value_unit => 'm3/MJ')$$);
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'x', 'y', calorific_value => 39, calorific_value_unit => 'MJ/parsec')$$);
SELECT pg_temp.error($$SELECT scaler.unmap_meter('map_utility', 'never-mapped')$$);
SELECT pg_temp.error($$SELECT scaler.unmap_meter('map_utility', 'E-100', ends_on => '2026-01-01')$$);
SELECT pg_temp.error($$SELECT scaler.unmap_asset('map_utility', NULL)$$);
SELECT count(*) AS untouched FROM scaler.meter_mapping WHERE external_meter_id IN ('x', '');

-- unmap without a date forgets every mapping of the external id
SELECT scaler.unmap_asset('map_utility', 'BLDG-7', ends_on => '2029-12-31');
SELECT (scaler.map_asset('map_utility', 'BLDG-7', 'SCL-A-9', valid_from => '2030-01-01')).scaler_asset_id;
SELECT scaler.unmap_asset('map_utility', 'BLDG-7');
SELECT count(*) FROM scaler.asset_mapping WHERE external_asset_id = 'BLDG-7';

-- an open end is NULL, however it is written; empty and open ranges in words
SELECT valid_from, valid_to, scaler.validity_text(validity)
  FROM scaler.map_meter('map_utility', 'INF-1', 'SCL-M-INF', '-infinity', 'infinity');
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'INF-2', 'SCL-M-INF2', valid_from => 'infinity')$$);
SELECT scaler.validity_text('empty'), scaler.validity_text('[2024-01-01,2024-01-02)');

-- a mapping in the way that starts later: the hint says where this one can end
SELECT pg_temp.error($$SELECT scaler.map_meter('map_meters', 'mtr-9', 'SCL-M-30')$$);

-- ending on its first day leaves a one-day mapping; later mappings stay
SELECT validity FROM scaler.map_meter('map_meters', 'mtr-40', 'SCL-M-40', '2024-01-01', '2024-06-30');
SELECT validity FROM scaler.map_meter('map_meters', 'mtr-40', 'SCL-M-41', '2024-07-01');
SELECT scaler.unmap_meter('map_meters', 'mtr-40', ends_on => '2024-01-01');
SELECT scaler_meter_id, scaler.validity_text(validity) FROM scaler.meter_mapping
 WHERE external_meter_id = 'mtr-40' ORDER BY lower(validity);

-- the helpers check what they are given
SELECT pg_temp.error($$SELECT scaler.unmap('Meter', 'map_meters', 'mtr-40', NULL)$$);
SELECT pg_temp.error($$INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id, calorific_value)
                       VALUES ('map_utility', 'x', 'y', 39.5)$$);

-- what a mapping uses stays: a fuel or unit in use cannot be deleted, a
-- server in use cannot be dropped, and a renamed server takes its mappings
INSERT INTO scaler.fuel (fuel, description) VALUES ('my_gas', 'a test fuel');
SELECT fuel FROM scaler.map_meter('map_utility', 'MY-1', 'SCL-M-MY', fuel => 'MY GAS');
SELECT pg_temp.error($$DELETE FROM scaler.fuel WHERE fuel = 'my_gas'$$);
SELECT pg_temp.error($$DROP SERVER map_utility$$);
ALTER SERVER map_meters RENAME TO map_smart_meters;
SELECT provider_server, count(*) FROM scaler.meter_mapping GROUP BY 1 ORDER BY 1;
SELECT provider_server, count(*) FROM scaler.asset_mapping GROUP BY 1 ORDER BY 1;
SELECT scaler.unmap_meter('map_smart_meters', 'mtr-9', ends_on => '2025-12-31');
ALTER SERVER map_smart_meters OPTIONS (ADD request_timeout '5s');
SELECT count(*) FROM scaler.meter_mapping WHERE provider_server = 'map_smart_meters';

-- mappings are users' data: pg_dump keeps them
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS t(oid) JOIN pg_class c ON c.oid = t.oid
 WHERE e.extname = 'scaler_fdw' AND c.relname LIKE '%mapping%' ORDER BY 1;

-- two sessions mapping the same meter at once: the second waits for the
-- first and is refused whichever check sees it first
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
SET client_min_messages = notice;
SELECT dblink_connect('map_other', format('dbname=%s port=%s host=%s', current_database(),
                          current_setting('port'),
                          split_part(current_setting('unix_socket_directories'), ',', 1)));
BEGIN;
SELECT external_meter_id FROM scaler.map_meter('map_smart_meters', 'race-1', 'SCL-M-RACE');
SELECT dblink_send_query('map_other', $$SELECT scaler.map_meter('map_smart_meters', 'race-2', 'SCL-M-RACE')$$);
SELECT pg_sleep(0.2);
COMMIT;
SELECT split_part(pg_temp.error($$SELECT * FROM dblink_get_result('map_other') AS r(x text)$$), ':', 1)
       AS second_session;
SELECT dblink_disconnect('map_other');
SELECT external_meter_id FROM scaler.meter_mapping WHERE scaler_meter_id = 'SCL-M-RACE';

-- ---- Scaler ids checked against the Scaler catalog (the Scaler sandbox) ----
DELETE FROM scaler.meter_mapping;
DELETE FROM scaler.asset_mapping;
\getenv sandbox_url SANDBOX_URL
\set scaler_url :sandbox_url '/v1'
CREATE SERVER map_scaler FOREIGN DATA WRAPPER scaler_fdw OPTIONS (provider 'scaler', base_url :'scaler_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER map_scaler OPTIONS (token 'scaler-tok-4d0e');
CREATE SCHEMA map_scaler_api;
IMPORT FOREIGN SCHEMA scaler LIMIT TO (assets, meters) FROM SERVER map_scaler INTO map_scaler_api;
-- until the catalog is loaded, any id goes
SELECT scaler_meter_id FROM scaler.map_meter('map_utility', 'PRE-1', 'not-a-scaler-id');
SELECT * FROM scaler.refresh_scaler_catalog(meters => 'map_scaler_api.meters', assets => 'map_scaler_api.assets');
SELECT resource, unit, count(*), bool_and(listed) FROM scaler.scaler_meter GROUP BY 1, 2 ORDER BY 1;
SELECT asset_id, name, city FROM scaler.scaler_asset ORDER BY asset_id LIMIT 2;
-- a second refresh finds nothing new
SELECT * FROM scaler.refresh_scaler_catalog(meters => 'map_scaler_api.meters', assets => 'map_scaler_api.assets');
-- then Scaler's ids are the only ones a mapping may name
SELECT scaler_meter_id, target_unit FROM scaler.map_meter('map_utility', 'E-100', '5001', target_unit => 'MWh');
SELECT scaler_asset_id FROM scaler.map_asset('map_utility', 'BLDG-7', '101');
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'E-101', '9999')$$);
SELECT pg_temp.error($$SELECT scaler.map_asset('map_utility', 'BLDG-8', 'SCL-A-1')$$);
-- a gas meter's volume is not an electricity meter's energy
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'E-103', '5002', target_unit => 'kWh')$$);
-- direct writes are not checked against the catalog: a restore or a load of
-- history never depends on what it holds at that moment
INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id, valid_to)
  VALUES ('map_utility', 'E-OLD', 'retired-before-scaler', '2019-12-31');
-- mappings made before the catalog was loaded stay
SELECT count(*) FROM scaler.meter_mapping WHERE scaler_meter_id = 'not-a-scaler-id';
-- suggestions: the sandbox's Scaler meters against a provider's meters
-- written the way providers write them
CREATE TABLE map_provider_meters (meter_id text, asset_id text, name text, serial_number text,
                                  resource text);
INSERT INTO map_provider_meters VALUES
  ('E-1', 'B1', 'CANAL WKS 101 - Elec Mtr #01', NULL, 'electricity'),
  ('G-1', 'B1', 'Canal Wks 101 nat. gas mtr 1', NULL, 'gas'),
  ('W-1', 'B1', 'water 1 canal works', NULL, 'water'),
  ('M-77', 'B2', 'main incomer', 'sc-e-0005', 'electricity'),
  ('SC-H-0004', 'B1', 'boiler room', NULL, 'heat'),
  ('Z-1', 'B9', 'Completely Unrelated', NULL, 'electricity');
CREATE TABLE map_provider_assets (asset_id text, name text, address text, city text, postcode text);
INSERT INTO map_provider_assets
  SELECT 'B1', name, address, city, postcode FROM scaler.scaler_asset WHERE asset_id = '101';
SELECT scaler.match_key('CANAL WKS - Elec Mtr #01'), scaler.match_id('sc-e-0005');
-- only a distinctive id decides a match alone
SELECT v, scaler.match_distinctive_id(v) FROM unnest(ARRAY['1', '0042', 'A-12', 'sc-e-0005', '84531399']) v;
SELECT external_meter_id, rank, scaler_meter_id, scaler_name, score, reason
  FROM scaler.suggest_meter_mappings('map_provider_meters', 'map_provider_assets', candidates => 2);
SELECT pg_temp.error($$SELECT * FROM scaler.suggest_meter_mappings('pg_class')$$);
SELECT pg_temp.error($$SELECT * FROM scaler.suggest_meter_mappings('map_provider_meters', candidates => 0)$$);

-- the worksheet: one row per provider meter not mapped today, best
-- suggestion first, written as CSV by COPY ...
COPY (SELECT * FROM scaler.mapping_worksheet('map_utility', 'map_provider_meters', 'map_provider_assets'))
  TO STDOUT (FORMAT csv, HEADER);
SELECT pg_temp.error($$SELECT * FROM scaler.mapping_worksheet('map_not_ours', 'map_provider_meters')$$);
-- ... filled in by people, read back by COPY into a staging table
CREATE TEMP TABLE map_ws (LIKE scaler.mapping_worksheet_row);
COPY map_ws FROM STDIN (FORMAT csv, HEADER);
provider_server,external_meter_id,external_name,resource,suggested_scaler_meter_id,suggested_scaler_name,score,reason,decision,scaler_meter_id,valid_from,valid_to,target_unit,note
map_utility,E-1,,electricity,5001,,1.000,,map,,,,kwh,
map_utility,G-1,,gas,5002,,0.914,,Map,5001,,,,
map_utility,W-1,,water,5003,,0.838,,yes,,,,,
map_utility,Z-1,,electricity,,,,,map,,,,,
no_such_server,E-2,,electricity,,,,,map,9999,2024-02-01,2024-01-01,parsec,
map_utility,E-1,,electricity,,,,,map,5005,2024-01-01,,MWh,
map_utility,M-77,,electricity,5005,,0.980,,map,,,,m3,
map_utility,SC-H-0004,,heat,5004,,1.000,,skip,,,,,
map_utility,Z-1,,electricity,,,,,,5013,,,,
\.
-- every problem, by CSV line, and nothing imported
SELECT * FROM scaler.check_mapping_worksheet('map_ws') ORDER BY line, problem;
SELECT count(*) AS before FROM scaler.meter_mapping \gset
SELECT pg_temp.error($$SELECT * FROM scaler.import_mapping_worksheet('map_ws')$$);
SELECT count(*) = :before AS untouched FROM scaler.meter_mapping;
-- fixed, it imports all or nothing, and says what it wrote
TRUNCATE map_ws;
COPY map_ws FROM STDIN (FORMAT csv, HEADER);
provider_server,external_meter_id,external_name,resource,suggested_scaler_meter_id,suggested_scaler_name,score,reason,decision,scaler_meter_id,valid_from,valid_to,target_unit,note
map_utility,E-1,,electricity,5001,,1.000,,map,5021,,,kwh,
map_utility,G-1,,gas,5002,,0.914,,MAP,,2024-01-01,,,from the bills
map_utility,W-1,,water,5003,,0.838,,skip,,,,,
map_utility,M-77,,electricity,5005,,0.980,,map,,,2025-12-31,,
map_utility,SC-H-0004,,heat,5004,,1.000,,,,,,,
\.
SELECT * FROM scaler.import_mapping_worksheet('map_ws');
SELECT external_meter_id, scaler_meter_id, scaler.validity_text(validity), target_unit, note
  FROM scaler.meter_mapping WHERE external_meter_id IN ('E-1', 'G-1', 'M-77') ORDER BY 1;
-- mapped meters leave the worksheet
SELECT external_meter_id FROM scaler.mapping_worksheet('map_utility', 'map_provider_meters');
SELECT pg_temp.error($$SELECT * FROM scaler.check_mapping_worksheet('pg_class')$$);
DROP TABLE map_provider_meters, map_provider_assets, map_ws;

-- views for BI tools over a provider's foreign tables (the local provider)
\getenv provider_url PROVIDER_URL
CREATE SERVER map_demo FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'provider_url', auth 'bearer',
           profile_override '{"tables": {"consumption": {"request": {"path": "/auth=bearer/consumption"}},
                                         "meters": {"request": {"path": "/auth=bearer/meters"}}}}');
CREATE USER MAPPING FOR CURRENT_USER SERVER map_demo OPTIONS (token 'tok-9b81c4');
CREATE SCHEMA map_demo;
IMPORT FOREIGN SCHEMA provider LIMIT TO (meters, consumption) FROM SERVER map_demo INTO map_demo;
SELECT meter_id, resource, unit FROM map_demo.meters WHERE asset_id = 'A0001' ORDER BY meter_id;
-- electricity to Scaler meter 5009 in MWh; gas to 5010 (in the Scaler
-- meter's m3) until 14 March, then to 5014
SELECT scaler_meter_id FROM scaler.map_meter('map_demo', 'M00001', '5009', target_unit => 'MWh');
SELECT scaler_meter_id FROM scaler.map_meter('map_demo', 'M00002', '5010', valid_to => '2025-03-14');
SELECT scaler_meter_id FROM scaler.map_meter('map_demo', 'M00002', '5014', valid_from => '2025-03-15');
SELECT scaler.create_mapped_views('map_demo', 'map_demo', 'map_demo.meters', 'map_demo.consumption');
SET timezone = 'UTC';
SELECT scaler_meter_id, external_meter_id, min(period_start)::date, max(period_start)::date, count(*),
       unit, round(sum(value), 3) AS value, round(sum(provider_value), 3) AS provider_value, provider_unit
  FROM map_demo.mapped_consumption
 WHERE period_start >= '2025-03-01' AND period_start < '2025-04-01'
 GROUP BY 1, 2, 6, 9 ORDER BY 1;
-- the same readings straight from the provider
SELECT meter_id, count(*), round(sum(value), 3), unit FROM map_demo.consumption
 WHERE meter_id IN ('M00001', 'M00002') AND period_start >= '2025-03-01' AND period_start < '2025-04-01'
 GROUP BY 1, 4 ORDER BY 1;
-- a renamed server takes its views along
ALTER SERVER map_demo RENAME TO map_demo_renamed;
SELECT count(*) FROM map_demo.mapped_consumption
 WHERE period_start >= '2025-03-01' AND period_start < '2025-04-01';
ALTER SERVER map_demo_renamed RENAME TO map_demo;
-- the period reaches the API through the view, and each mapped meter's id
CREATE FUNCTION pg_temp.plan_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    RETURN NEXT l;
  END LOOP;
END
$$;
SELECT btrim(l) FROM pg_temp.plan_lines($$SELECT * FROM map_demo.mapped_consumption
   WHERE period_start >= '2025-03-01' AND period_start < '2025-04-01'$$) l
 WHERE l ~ 'Foreign Scan|Pushed Filters';
SELECT meter_id, resource FROM map_demo.unmapped_meters WHERE meter_id IN ('M00001', 'M00002', 'M00003');
SELECT meter_id, resource FROM scaler.unmapped_scaler_meters WHERE meter_id IN ('5003', '5009', '5010', '5014');
SELECT provider_server, meters_mapped_today, mappings, mappings_without_a_unit,
       mapped_to_delisted_scaler_meters
  FROM scaler.mapping_report ORDER BY 1;
SELECT pg_temp.error($$SELECT scaler.create_mapped_views('map_demo', 'map_demo', 'map_demo.consumption', 'map_demo.meters')$$);
SELECT pg_temp.error($$SELECT scaler.create_mapped_views('map_demo', 'map_demo', 'map_demo.meters', 'map_demo.consumption')$$);
SELECT pg_temp.error($$SELECT scaler.create_mapped_views('map_demo', 'no_such', 'map_demo.meters', 'map_demo.consumption')$$);
SELECT pg_temp.error($$SELECT scaler.create_mapped_views('public', 'map_demo', 'map_scaler_api.meters', 'map_demo.consumption')$$);
DELETE FROM scaler.meter_mapping WHERE provider_server = 'map_demo';
SET client_min_messages = warning;
DROP SCHEMA map_demo CASCADE;
DROP SERVER map_demo CASCADE;
SET client_min_messages = notice;

-- a meter Scaler stops listing: its mappings stay, new ones are refused
CREATE VIEW map_scaler_api.meters_without_5001 AS
  SELECT * FROM map_scaler_api.meters WHERE meter_id <> '5001';
SELECT * FROM scaler.refresh_scaler_catalog(meters => 'map_scaler_api.meters_without_5001');
SELECT meter_id, listed FROM scaler.scaler_meter WHERE NOT listed;
SELECT pg_temp.error($$SELECT scaler.map_meter('map_utility', 'E-104', '5001', valid_from => '2030-01-01')$$);
SELECT scaler.unmap_meter('map_utility', 'E-100', ends_on => '2026-12-31');
SELECT * FROM scaler.refresh_scaler_catalog(meters => 'map_scaler_api.meters');
-- what refresh needs
SELECT pg_temp.error($$SELECT * FROM scaler.refresh_scaler_catalog('pg_class')$$);
SELECT pg_temp.error($$SELECT * FROM scaler.refresh_scaler_catalog('no_such_table')$$);
DROP SCHEMA map_scaler_api CASCADE;
DROP SERVER map_scaler CASCADE;
DELETE FROM scaler.scaler_meter;
DELETE FROM scaler.scaler_asset;
SELECT pg_temp.error($$SELECT * FROM scaler.suggest_meter_mappings('pg_class')$$);

DELETE FROM scaler.meter_mapping;
DELETE FROM scaler.asset_mapping;
DELETE FROM scaler.fuel WHERE fuel = 'my_gas';
DROP SERVER map_utility, map_smart_meters, map_not_ours;
DROP FOREIGN DATA WRAPPER map_other_wrapper;
