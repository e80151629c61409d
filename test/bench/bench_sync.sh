#!/usr/bin/env bash
# Runs inside pg_virtualenv with scaler_fdw installed (plain psql connects).
# Sync end to end: 1,000 meters x 365 daily readings from the provider
# server (SYNC_PROVIDER_URL) fetched, validated, converted to the units of
# the Scaler catalog, staged and delivered to the Scaler sandbox
# (SYNC_SANDBOX_URL) in batches of 1,000.  Runs from an empty outbox:
# sync() doing everything in one transaction (twice, the faster counts),
# and one split into staging and delivery to show where the time goes; then
# a pass with nothing new (the lookback only).  Prints shell assignments of
# the figures and '#' comment lines.
set -euo pipefail
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

q <<SQL
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
CREATE SERVER bench_sync_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url '$SYNC_PROVIDER_URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench_sync_provider;
CREATE SCHEMA bench_sync;
IMPORT FOREIGN SCHEMA p LIMIT TO (meters, consumption) FROM SERVER bench_sync_provider INTO bench_sync;
CREATE SERVER bench_sync_sink FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'scaler', base_url '$SYNC_SANDBOX_URL/v1');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench_sync_sink OPTIONS (token 'scaler-tok-4d0e');
CREATE SCHEMA bench_sync_scaler;
IMPORT FOREIGN SCHEMA scaler LIMIT TO (assets, meters) FROM SERVER bench_sync_sink INTO bench_sync_scaler;
SELECT '# Scaler catalog: ' || string_agg(kind || ' ' || listed, ', ')
  FROM scaler.refresh_scaler_catalog('bench_sync_scaler.meters', 'bench_sync_scaler.assets');
INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id)
SELECT 'bench_sync_provider', format('M%s', lpad(n::text, 5, '0')), (5000 + n)::text
  FROM generate_series(1, 1000) n;
SELECT scaler.configure_sync('bench_sync_provider', 'bench_sync.meters', 'bench_sync.consumption',
                             'bench_sync_sink', history_start => '2025-01-01', batch_size => 1000);
SQL

# every timed run starts from the same state: empty outbox, vacuumed, and
# checkpointed, so no run pays for the writes of the one before it
reset_all() {
  curl -s -o /dev/null -X POST "$SYNC_SANDBOX_URL/_reset"
  q -c "TRUNCATE scaler.sync_attempt, scaler.sync_batch, scaler.sync_outbox, scaler.sync_meter_state,
               scaler.sync_quarantine, scaler.sync_dead_letter" -c "VACUUM ANALYZE scaler.sync_outbox" \
    -c "CHECKPOINT"
}

# the floor: a plain scan of the same readings through the same foreign table
q <<'SQL'
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT '# scanned: ' || count(*) FROM bench_sync.consumption WHERE period_start >= '2025-01-01';
SELECT 'sync_scan_s=' || round(extract(epoch FROM clock_timestamp() - t)::numeric, 2) FROM t0;
SQL

# one transaction: fetch, stage, deliver; twice, the faster run counts
best=
for run in 1 2; do
  reset_all
  out=$(q <<'SQL'
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
CREATE TEMP TABLE r AS SELECT * FROM scaler.sync('bench_sync_provider');
SELECT round(extract(epoch FROM clock_timestamp() - t)::numeric, 2) FROM t0;
SELECT 'sync_readings=' || delivered FROM r;
SELECT '# full pass: ' || status || ', meters ' || meters || ', fetched ' || fetched || ', new ' || new
       || ', delivered ' || delivered || ', failed ' || failed FROM r;
SQL
)
  secs=$(echo "$out" | head -n 1)
  echo "$out" | tail -n +2
  echo "# full pass $run: $secs s"
  if [ -z "$best" ] || awk "BEGIN {exit !($secs < $best)}"; then best=$secs; fi
done
echo "sync_full_s=$best"

# the same, staged and delivered separately
reset_all
q <<'SQL'
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT '# staged: ' || new FROM scaler.sync('bench_sync_provider', deliver => false);
SELECT 'sync_stage_s=' || round(extract(epoch FROM clock_timestamp() - t)::numeric, 2) FROM t0;
SQL
q <<'SQL'
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT '# delivered: ' || delivered || ' in ' || batches || ' batches' FROM scaler.sync_deliver('bench_sync_provider');
SELECT 'sync_deliver_s=' || round(extract(epoch FROM clock_timestamp() - t)::numeric, 2) FROM t0;
SQL

# nothing new: the lookback window fetched and found unchanged
q <<'SQL'
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT '# incremental pass: fetched ' || fetched || ', unchanged ' || unchanged FROM scaler.sync('bench_sync_provider');
SELECT 'sync_incremental_s=' || round(extract(epoch FROM clock_timestamp() - t)::numeric, 2) FROM t0;
SQL
stored=$(curl -s "$SYNC_SANDBOX_URL/_requests" | python3 -c 'import json,sys; print(sum(r["created"] or 0 for r in json.load(sys.stdin) if r["status"] == 200 and not r["replayed"]))')
echo "sync_sink_created=$stored"
