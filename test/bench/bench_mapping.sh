#!/usr/bin/env bash
# Runs inside pg_virtualenv with scaler_fdw installed (plain psql connects).
# Suggestion quality: 1,000 provider meters against the same 1,000 Scaler
# meters written with realistic noise, plus 200 Scaler meters the provider
# lacks (half in look-alike buildings) and 100 provider meters Scaler lacks
# (gen_mapping_portfolio.py); the top suggestion of each provider meter
# at the default min_score compared with the truth.  Prints shell
# assignments of the figures and '#' comment lines.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 "$(dirname "$0")/gen_mapping_portfolio.py" "$dir" --meters 1000 --scaler-only 200 \
  --provider-only 100 --seed 7
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

q <<SQL
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
CREATE TEMP TABLE sa (asset_id text, name text, address text, city text, postcode text, country text,
                      portfolio_id text);
CREATE TEMP TABLE sm (meter_id text, asset_id text, name text, resource text, unit text, meter_code text);
CREATE TEMP TABLE pa (asset_id text, name text, address text, city text, postcode text);
CREATE TEMP TABLE pm (meter_id text, asset_id text, name text, serial_number text, resource text);
CREATE TEMP TABLE truth (meter_id text, scaler_meter_id text);
\copy sa FROM '$dir/scaler_assets.csv' (FORMAT csv, HEADER)
\copy sm FROM '$dir/scaler_meters.csv' (FORMAT csv, HEADER)
\copy pa FROM '$dir/provider_assets.csv' (FORMAT csv, HEADER)
\copy pm FROM '$dir/provider_meters.csv' (FORMAT csv, HEADER)
\copy truth FROM '$dir/truth.csv' (FORMAT csv, HEADER)
SELECT '# catalog: ' || string_agg(kind || ' ' || listed, ', ') FROM scaler.refresh_scaler_catalog('sm', 'sa');
SELECT '# sample: ' || p.name || ' | ' || a.name || ', ' || a.address FROM pm p JOIN pa a USING (asset_id)
 ORDER BY p.meter_id LIMIT 3;
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
CREATE TEMP TABLE top AS
  SELECT * FROM scaler.suggest_meter_mappings('pm', 'pa', candidates => 1);
SELECT 'mapping_suggest_s=' || round(extract(epoch FROM clock_timestamp() - t)::numeric, 2) FROM t0;
SELECT 'mapping_meters=' || count(*) FROM pm;
SELECT 'mapping_pairs=' || count(*) FROM truth;
SELECT 'mapping_scaler_meters=' || count(*) FROM sm;
SELECT 'mapping_suggested=' || count(*) FROM top;
SELECT 'mapping_correct=' || count(*) FROM top s JOIN truth t
    ON t.meter_id = s.external_meter_id AND t.scaler_meter_id = s.scaler_meter_id;
SELECT 'mapping_by_code=' || count(*) FROM top WHERE reason LIKE 'serial%' OR reason LIKE 'meter id%';
SELECT 'mapping_unpaired_suggested=' || count(*) FROM top s
 WHERE NOT EXISTS (SELECT FROM truth t WHERE t.meter_id = s.external_meter_id);
SQL
