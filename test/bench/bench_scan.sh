#!/usr/bin/env bash
# Runs inside pg_virtualenv for run_bench.sh; prints shell assignments of the figures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
now() { date +%s.%N; }
since() { awk "BEGIN {printf \"%.3f\", $(now) - $1}"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# the same typed columns from the JSON pages and from their XML twins
columns="meter_id text,
  period_start timestamptz OPTIONS (json_path 'interval_start'),
  period_end timestamptz OPTIONS (json_path 'interval_end'),
  value numeric OPTIONS (json_path 'consumption'),
  unit text,
  is_estimated boolean OPTIONS (json_path 'estimated')"
q <<SQL
CREATE EXTENSION scaler_fdw CASCADE;
CREATE SERVER bench FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url '$PROVIDER_URL');
CREATE FOREIGN TABLE consumption ($columns) SERVER bench
  OPTIONS (endpoint '${BENCH_FIRST#$PROVIDER_URL}', records_path 'results', pagination 'next_url');
-- the same pages as XML (the provider server's format=xml twin of each page)
CREATE FOREIGN TABLE consumption_xml ($columns) SERVER bench
  OPTIONS (endpoint '${BENCH_FIRST#$PROVIDER_URL}&format=xml', records_path 'page.results.reading',
           pagination 'next_url', next_url_path 'page.next', format 'xml');
CREATE TABLE local_fdw (meter_id text, period_start timestamptz, period_end timestamptz,
                        value numeric, unit text, is_estimated boolean);
CREATE TABLE local_jsonb (LIKE local_fdw);
CREATE TABLE local_python (LIKE local_fdw);
SQL

# Each pipeline runs twice and the faster run counts: the machine is shared.
best() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (a < b ? a : b)}'; }

# scaler_fdw scans, with the backend's peak memory around the first run:
# timed_scan NAME QUERY prints NAME_scan_s, NAME_peak_kb and the query's result
hwm="(regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::int"
timed_scan() {
  local name=$1 query=$2 t s1 out
  t=$(now)
  out=$(q <<SQL
SELECT $hwm;
$query;
SELECT $hwm;
SQL
)
  s1=$(since "$t")
  t=$(now)
  q -c "$query" >/dev/null
  echo "${name}_scan_s=$(best "$s1" "$(since "$t")")"
  echo "${name}_peak_kb=$(( $(echo "$out" | sed -n 3p) - $(echo "$out" | sed -n 1p) ))"
  echo "# ${name} rows: $(echo "$out" | sed -n 2p)"
}
scan_query="SELECT count(*), sum(value), max(period_start), max(period_end),
       count(*) FILTER (WHERE is_estimated), max(unit), max(meter_id)
  FROM consumption"
fdw_out=$(timed_scan fdw "$scan_query")
echo "$fdw_out"
# the XML scan, the same query over the same readings; its results must match the JSON scan's
xml_out=$(timed_scan xml "${scan_query//FROM consumption/FROM consumption_xml}")
echo "$xml_out"
if [ "$(echo "$xml_out" | sed -n 's/^# xml rows: //p')" = "$(echo "$fdw_out" | sed -n 's/^# fdw rows: //p')" ]; then
  echo "# xml scan: same results as the JSON scan"
else
  echo "# xml scan: RESULTS DIFFER"
fi

runs=()
for i in 1 2; do
  q -c "TRUNCATE local_fdw"
  t=$(now)
  q -c "INSERT INTO local_fdw SELECT * FROM consumption"
  runs+=("$(since "$t")")
done
echo "fdw_insert_s=$(best "${runs[@]}")"

# (a) curl + jsonb_to_recordset
dl="$BENCH_PAGES_DIR/../dl"
mkdir -p "$dl"
for p in $(seq 1 "$BENCH_PAGES"); do
  printf 'url = "%s&page=%d"\noutput = "%s/p%03d.json"\n' "$BENCH_FIRST" "$p" "$dl" "$p"
done >"$dl.cfg"
curl_runs=()
jsonb_runs=()
for i in 1 2; do
  t=$(now)
  curl -s -K "$dl.cfg"
  curl_runs+=("$(since "$t")")
  chmod -R a+rX "$dl"
  q -c "TRUNCATE local_jsonb"
  t=$(now)
  for f in "$dl"/*.json; do
    echo "INSERT INTO local_jsonb SELECT * FROM jsonb_to_recordset(pg_read_file('$f')::jsonb->'results')
            AS x(meter_id text, interval_start timestamptz, interval_end timestamptz,
                 consumption numeric, unit text, estimated boolean);"
  done | q
  jsonb_runs+=("$(since "$t")")
done
echo "curl_s=$(best "${curl_runs[@]}")"
echo "jsonb_s=$(best "${jsonb_runs[@]}")"

# (b) Python standard library
runs=()
for i in 1 2; do
  q -c "TRUNCATE local_python"
  t=$(now)
  /usr/bin/python3 "$here/python_baseline.py" "$BENCH_FIRST" local_python >/dev/null
  runs+=("$(since "$t")")
done
echo "python_s=$(best "${runs[@]}")"

# every pipeline loaded the same rows
q -c "SELECT 'counts: ' || (SELECT count(*) FROM local_fdw) || ' ' || (SELECT count(*) FROM local_jsonb) || ' ' || (SELECT count(*) FROM local_python)" | sed 's/^/# /'
q -c "SELECT CASE WHEN (SELECT sum(value) FROM local_fdw) = (SELECT sum(value) FROM local_jsonb)
              AND (SELECT sum(value) FROM local_fdw) = (SELECT sum(value) FROM local_python)
         THEN 'sums agree' ELSE 'SUMS DIFFER' END" | sed 's/^/# /'
