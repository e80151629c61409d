-- Sync to Scaler (docs/sync.md): settings and their errors, one pass end
-- to end against the provider server and the Scaler sandbox, validation
-- into quarantine, monthly sums in a time zone, stale meters, reconciliation.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
SET client_min_messages = notice;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set VERBOSITY default
\set SHOW_CONTEXT never
\getenv provider_url PROVIDER_URL
\getenv sandbox_url SANDBOX_URL
\set scaler_url :sandbox_url '/v1'
\set sync_url :provider_url '/run=sync'
\setenv SANDBOX_URL :sandbox_url
\! curl -s -o /dev/null -X POST "$SANDBOX_URL/_reset"

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

-- the provider (12 meters, 90 daily readings from 2025-01-01) and Scaler
CREATE SERVER sync_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'sync_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER sync_provider;
CREATE SCHEMA sync_p;
IMPORT FOREIGN SCHEMA p FROM SERVER sync_provider INTO sync_p;
CREATE SERVER sync_scaler FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'scaler', base_url :'scaler_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER sync_scaler OPTIONS (token 'scaler-tok-4d0e');
CREATE SCHEMA sync_s;
IMPORT FOREIGN SCHEMA scaler LIMIT TO (meters, readings) FROM SERVER sync_scaler INTO sync_s;
SELECT listed, delisted FROM scaler.refresh_scaler_catalog(meters => 'sync_s.meters');
-- M00001..M00012 to 5001..5012; heat (M00004, metered in MWh) goes to
-- Scaler in kWh, summed per calendar month of London time
INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id)
SELECT 'sync_provider', format('M%s', lpad(n::text, 5, '0')), (5000 + n)::text
  FROM generate_series(1, 12) n WHERE n <> 4;
SELECT external_meter_id, target_unit FROM scaler.map_meter('sync_provider', 'M00004', '5004', target_unit => 'kWh');
UPDATE scaler.meter_mapping SET granularity = 'month', time_zone = 'Europe/London'
 WHERE external_meter_id = 'M00004';

-- settings: what is wrong is named
SELECT pg_temp.error($$SELECT scaler.configure_sync('no_such_server')$$);
SELECT pg_temp.error($$SELECT scaler.configure_sync('sync_provider')$$);
SELECT pg_temp.error($$SELECT scaler.configure_sync('sync_provider', 'sync_p.meters', 'sync_p.consumption', 'no_sink')$$);
SELECT pg_temp.error($$SELECT scaler.configure_sync('sync_provider', 'sync_p.meters', 'sync_s.readings', 'sync_scaler')$$);
SELECT pg_temp.error($$SELECT scaler.configure_sync('sync_provider', 'sync_p.meters', 'sync_p.assets', 'sync_scaler')$$);
SELECT pg_temp.error($$SELECT scaler.configure_sync('sync_provider', 'sync_p.meters', 'sync_p.consumption', 'sync_scaler', time_zone => 'Mars/Olympus')$$);
SELECT pg_temp.error($$SELECT scaler.configure_sync('sync_provider', 'sync_p.meters', 'sync_p.consumption', 'sync_scaler', granularity => 'week')$$);
SELECT pg_temp.error($$SELECT scaler.configure_sync('sync_provider', 'sync_p.meters', 'sync_p.consumption', 'sync_scaler', sink_path => 'ingest')$$);
SELECT pg_temp.error($$SELECT scaler.sync('sync_provider')$$);
SELECT pg_temp.error($$SELECT scaler.sync(NULL)$$);
SELECT pg_temp.error($$UPDATE scaler.meter_mapping SET time_zone = 'Nowhere/Land' WHERE external_meter_id = 'M00001'$$);
SELECT pg_temp.error($$UPDATE scaler.meter_mapping SET granularity = 'fortnight' WHERE external_meter_id = 'M00001'$$);

SELECT provider_server, meters_table, consumption_table, sink_server, sink_path, history_start,
       lookback, granularity, time_zone, batch_size
  FROM scaler.configure_sync('sync_provider', 'sync_p.meters', 'sync_p.consumption', 'sync_scaler',
                             history_start => '2025-01-01', batch_size => 250);

-- the first pass: every reading of every mapping, staged and delivered
SELECT status, meters, fetched, new, changed, unchanged, quarantined, delivered, failed,
       deactivated, meter_errors, message
  FROM scaler.sync('sync_provider');
SELECT state, count(*) AS batches, sum(readings) AS readings, max(attempts) AS attempts
  FROM scaler.sync_batch GROUP BY state;
-- monthly sums for M00004: March ends at 2025-04-01 00:00 London time (BST)
SELECT scaler_meter_id, period_start, period_end, value, unit, readings, revision
  FROM scaler.sync_outbox WHERE external_meter_id = 'M00004' ORDER BY period_start;
SELECT external_meter_id, scaler_meter_id, watermark, staged, pending, delivered, dead_letters,
       quarantined, last_error
  FROM scaler.sync_status ORDER BY mapping_id;
-- what Scaler stored, through its pull API
SELECT meter_id, count(*) AS readings, min(period_start), max(period_end), sum(value), min(unit)
  FROM sync_s.readings WHERE meter_id IN ('5001', '5002', '5004') GROUP BY meter_id ORDER BY 1;

-- the second pass fetches the lookback window again and finds nothing new
SELECT status, fetched, new, changed, unchanged, quarantined, delivered FROM scaler.sync('sync_provider');

-- reconciliation: provider, delivered and Scaler agree
SELECT scaler_meter_id, external_meter_id, month, unit, provider_readings, provider_total,
       delivered_total, pending, scaler_total, status
  FROM scaler.reconcile('sync_provider', '2025-01-01', '2025-04-01', 'sync_s.readings')
 WHERE scaler_meter_id IN ('5001', '5002', '5004');
SELECT status, count(*) FROM scaler.reconcile('sync_provider', '2025-01-01', '2025-04-01', 'sync_s.readings')
 GROUP BY status;
SELECT pg_temp.error($$SELECT * FROM scaler.reconcile('sync_provider', '2025-04-01', '2025-01-01')$$);

-- invalid readings go to quarantine with their reason, never dropped: a
-- provider whose readings overlap (each daily reading said to last two
-- days) and one whose unit nobody knows
CREATE SERVER sync_bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'sync_url', profile_override
   '{"tables": {"consumption": {"fields": {"period_end": {"path": "interval_start", "format": "iso8601", "add": "2 days"},
                                           "unit": {"path": "unit", "map": {"kWh": "kWhh"}, "default": "m3"}}}}}');
CREATE USER MAPPING FOR CURRENT_USER SERVER sync_bad;
CREATE SCHEMA sync_b;
IMPORT FOREIGN SCHEMA p LIMIT TO (meters, consumption) FROM SERVER sync_bad INTO sync_b;
INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id, valid_from)
VALUES ('sync_bad', 'M00001', '5013', NULL), ('sync_bad', 'M00003', '5015', NULL);
SELECT provider_server FROM scaler.configure_sync('sync_bad', 'sync_b.meters', 'sync_b.consumption', 'sync_scaler',
                                                  history_start => '2025-03-01');
SELECT status, fetched, new, quarantined, delivered FROM scaler.sync('sync_bad');
SELECT external_meter_id, reason, count(*), min(period_start), max(period_start)
  FROM scaler.sync_quarantine GROUP BY 1, 2 ORDER BY 1, 2;
-- seen again: counted, not duplicated
SELECT status, quarantined FROM scaler.sync('sync_bad');
SELECT external_meter_id, count(*), min(times_seen), max(times_seen)
  FROM scaler.sync_quarantine GROUP BY 1 ORDER BY 1;

-- meters the provider stopped listing: mappings deactivated, not deleted,
-- and reactivated when they come back
\setenv SYNC_URL :sync_url
\! curl -s -o /dev/null -X POST -d '{"meter_ids": ["M00011", "M00012"]}' "$SYNC_URL/_hidden_meters"
SELECT status, meters, deactivated, message FROM scaler.sync('sync_provider');
SELECT external_meter_id, active, deactivated_reason FROM scaler.meter_mapping
 WHERE provider_server = 'sync_provider' AND NOT active ORDER BY 1;
\! curl -s -o /dev/null -X DELETE "$SYNC_URL/_hidden_meters"
SELECT status, meters, reactivated, message FROM scaler.sync('sync_provider');

-- a provider failing for one meter: the others are staged, its watermark stays
\! curl -s -o /dev/null -X POST -d '{"meter_ids": ["M00005"], "status": 500}' "$SYNC_URL/_meter_faults"
ALTER SERVER sync_provider OPTIONS (ADD max_retries '0');
SELECT status, meters, meter_errors, message FROM scaler.sync('sync_provider');
SELECT external_meter_id, watermark, left(last_error, 60) AS last_error
  FROM scaler.sync_status WHERE last_error IS NOT NULL;
\! curl -s -o /dev/null -X DELETE "$SYNC_URL/_meter_faults"
SELECT status, meter_errors FROM scaler.sync('sync_provider');

-- the sink refusing readings (HTTP 422 naming them): those go to the
-- dead-letter table with its reason; the rest of their batches is delivered
DELETE FROM scaler.sync_outbox WHERE external_meter_id IN ('M00005', 'M00006');
DELETE FROM scaler.sync_meter_state
 WHERE mapping_id IN (SELECT mapping_id FROM scaler.meter_mapping WHERE external_meter_id IN ('M00005', 'M00006'));
\! curl -s -o /dev/null -X POST -d '{"reject_meter_ids": [5006]}' "$SANDBOX_URL/_control"
SELECT status, new, delivered, failed FROM scaler.sync('sync_provider');
SELECT scaler_meter_id, http_status, reason, count(*), min(period_start), max(period_start)
  FROM scaler.sync_dead_letter GROUP BY 1, 2, 3;
SELECT external_meter_id, pending, delivered, dead_letters, last_error
  FROM scaler.sync_status WHERE external_meter_id IN ('M00005', 'M00006') ORDER BY 1;
-- once Scaler takes the meter again, its readings are queued again
\! curl -s -o /dev/null -X POST -d '{"reject_meter_ids": []}' "$SANDBOX_URL/_control"
SELECT scaler.retry_dead_letters('sync_provider');
SELECT status, delivered, failed FROM scaler.sync('sync_provider');
SELECT count(*) FILTER (WHERE retried_at IS NULL) AS open_dead_letters FROM scaler.sync_dead_letter;

-- the sink unreachable: batches wait, each attempt recorded with its error
DELETE FROM scaler.sync_outbox WHERE external_meter_id = 'M00007';
DELETE FROM scaler.sync_meter_state
 WHERE mapping_id = (SELECT mapping_id FROM scaler.meter_mapping WHERE external_meter_id = 'M00007');
ALTER SERVER sync_scaler OPTIONS (SET base_url 'http://127.0.0.1:9/v1', ADD max_retries '0');
SELECT status, new, delivered, failed FROM scaler.sync('sync_provider');
SELECT b.state, b.readings, a.outcome, a.http_status, a.error
  FROM scaler.sync_batch b JOIN scaler.sync_attempt a USING (batch_id) WHERE b.state = 'pending';
ALTER SERVER sync_scaler OPTIONS (SET base_url :'scaler_url', DROP max_retries);
UPDATE scaler.sync_batch SET next_attempt_at = now() WHERE state = 'pending';
SELECT status, delivered, failed FROM scaler.sync('sync_provider');

-- the run history keeps scaler_fdw.sync_run_retention runs per server
SELECT provider_server, status, count(*) FROM scaler.sync_run GROUP BY 1, 2 ORDER BY 1, 2;
SET scaler_fdw.sync_run_retention = 3;
SELECT status FROM scaler.sync('sync_provider');
RESET scaler_fdw.sync_run_retention;
-- the run history
SELECT provider_server, status, count(*) FROM scaler.sync_run GROUP BY 1, 2 ORDER BY 1, 2;

-- the sync scope: electricity only, and not building A0003's meters; a
-- mapping's own flag opts a gas meter in and a water meter out
SELECT resources, include_assets, exclude_assets
  FROM scaler.configure_sync('sync_provider', resources => '{electricity}', exclude_assets => '{A0003}');
UPDATE scaler.meter_mapping SET sync = true WHERE external_meter_id = 'M00002';
UPDATE scaler.meter_mapping SET sync = false WHERE external_meter_id = 'M00003';
SELECT status, meters, message FROM scaler.sync('sync_provider');
SELECT resources, include_assets, exclude_assets
  FROM scaler.configure_sync('sync_provider', resources => '{}', exclude_assets => '{}');
SELECT status, meters, message FROM scaler.sync('sync_provider');
-- a scope needs the meters' resource and asset
CREATE FOREIGN TABLE sync_b.meter_ids (meter_id text) SERVER sync_bad OPTIONS (table 'meters');
SELECT pg_temp.error($$SELECT scaler.configure_sync('sync_bad', 'sync_b.meter_ids', 'sync_b.consumption', 'sync_scaler', resources => '{gas}')$$);

-- a meter exchange inside a month: Scaler meter 5020 is fed by M00001 until
-- 2025-02-14 and by M00005 from 2025-02-15; its February is the sum of both
-- parts, sent once, and each mapping's watermark moves past it
CREATE SERVER sync_exch FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'sync_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER sync_exch;
CREATE SCHEMA sync_x;
IMPORT FOREIGN SCHEMA p LIMIT TO (meters, consumption) FROM SERVER sync_exch INTO sync_x;
SELECT external_meter_id, scaler_meter_id, valid_from, valid_to
  FROM scaler.map_meter('sync_exch', 'M00001', '5020', valid_to => '2025-02-14', target_unit => 'kWh');
SELECT external_meter_id, scaler_meter_id, valid_from, valid_to
  FROM scaler.map_meter('sync_exch', 'M00005', '5020', valid_from => '2025-02-15', target_unit => 'kWh');
SELECT provider_server FROM scaler.configure_sync('sync_exch', 'sync_x.meters', 'sync_x.consumption', 'sync_scaler',
                                                  history_start => '2025-01-01', granularity => 'month');
SELECT status, meters, fetched, new, delivered, meter_errors FROM scaler.sync('sync_exch');
SELECT o.period_start, o.external_meter_id, o.readings, o.value,
       o.value = (SELECT sum(c.value) FROM sync_x.consumption c
                   WHERE (c.meter_id = 'M00001' AND c.period_start >= o.period_start
                          AND c.period_start < least(o.period_end, '2025-02-15'))
                      OR (c.meter_id = 'M00005' AND c.period_start >= greatest(o.period_start, '2025-02-15')
                          AND c.period_start < o.period_end)) AS both_parts
  FROM scaler.sync_outbox o WHERE o.scaler_meter_id = '5020' ORDER BY o.period_start;
SELECT m.external_meter_id, s.watermark
  FROM scaler.sync_meter_state s JOIN scaler.meter_mapping m USING (mapping_id)
 WHERE m.provider_server = 'sync_exch' ORDER BY 1;
-- the next pass: February is not sent again, nor cut to one part
SELECT status, new, changed, unchanged, delivered FROM scaler.sync('sync_exch');
SELECT period_start, value, revision FROM scaler.sync_outbox WHERE scaler_meter_id = '5020'
 ORDER BY period_start;

-- a switch of provider server inside a month (M00009 read through sync_exch
-- until 2025-02-14, through sync_exch2 from then on): each pass sees only its
-- part, so the shared month is quarantined with its reason, never sent in part
CREATE SERVER sync_exch2 FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'sync_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER sync_exch2;
CREATE SCHEMA sync_x2;
IMPORT FOREIGN SCHEMA p LIMIT TO (meters, consumption) FROM SERVER sync_exch2 INTO sync_x2;
SELECT external_meter_id, scaler_meter_id, valid_to
  FROM scaler.map_meter('sync_exch', 'M00009', '5021', valid_to => '2025-02-14', target_unit => 'kWh');
SELECT external_meter_id, scaler_meter_id, valid_from
  FROM scaler.map_meter('sync_exch2', 'M00009', '5021', valid_from => '2025-02-15', target_unit => 'kWh');
SELECT provider_server FROM scaler.configure_sync('sync_exch2', 'sync_x2.meters', 'sync_x2.consumption', 'sync_scaler',
                                                  history_start => '2025-01-01', granularity => 'month');
SELECT status, new, quarantined FROM scaler.sync('sync_exch');
SELECT status, new, quarantined FROM scaler.sync('sync_exch2');
SELECT period_start, external_meter_id, readings FROM scaler.sync_outbox WHERE scaler_meter_id = '5021'
 ORDER BY period_start;
SELECT provider_server, external_meter_id, period_start, reason FROM scaler.sync_quarantine
 WHERE scaler_meter_id = '5021' ORDER BY 1;
SELECT m.provider_server, s.watermark
  FROM scaler.sync_meter_state s JOIN scaler.meter_mapping m USING (mapping_id)
 WHERE m.scaler_meter_id = '5021' ORDER BY 1;

DROP SCHEMA sync_p, sync_s, sync_b, sync_x, sync_x2 CASCADE;
DELETE FROM scaler.sync_server;
TRUNCATE scaler.sync_run, scaler.sync_outbox, scaler.sync_batch, scaler.sync_attempt,
  scaler.sync_quarantine, scaler.sync_dead_letter, scaler.sync_meter_state;
DELETE FROM scaler.meter_mapping;
DELETE FROM scaler.scaler_meter;
DROP SERVER sync_provider, sync_scaler, sync_bad, sync_exch, sync_exch2 CASCADE;
