#!/usr/bin/env bash
# Runs inside pg_virtualenv (scaler_fdw preloaded) for run_bench.sh; prints
# shell assignments of the figures and '#' comment lines.
#   fan-out: 1,000 meters, one page of readings each, 50 ms injected latency,
#            at max_concurrency 1 and 16;
#   rate budget: two backends scanning one server at once, the most requests
#            the provider saw in any one second against rate + burst.
set -euo pipefail
now() { date +%s.%N; }
since() { awk "BEGIN {printf \"%.3f\", $(now) - $1}"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

q <<SQL
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
CREATE SERVER fan FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url '$FANOUT_URL/latency=50', max_concurrency '1', profile \$json\$
{"tables": {
  "meters": {"request": {"path": "/meters", "query": {"page_size": "1000"}}, "pagination": {"type": "next_url"},
             "records": "results", "fields": {"meter_id": "meter_id"}},
  "readings": {"request": {"path": "/meters/{meter_id}/consumption"}, "pagination": {"type": "next_url"},
               "records": "results", "parent": {"table": "meters", "vars": ["meter_id"]},
               "fields": {"meter_id": {"var": "meter_id"}, "value": "consumption"}}}}
\$json\$);
CREATE FOREIGN TABLE readings (meter_id text, value numeric) SERVER fan OPTIONS (table 'readings');
SQL

t=$(now)
r1=$(q -c "SELECT count(*) || ' ' || count(DISTINCT meter_id) || ' ' || sum(value) FROM readings")
echo "fanout_c1_s=$(since "$t")"
q -c "ALTER SERVER fan OPTIONS (SET max_concurrency '16')"
t=$(now)
r16=$(q -c "SELECT count(*) || ' ' || count(DISTINCT meter_id) || ' ' || sum(value) FROM readings")
echo "fanout_c16_s=$(since "$t")"
echo "# fan-out rows (rows meters sum): c1 $r1, c16 $r16"
[ "$r1" = "$r16" ] && echo "# fan-out results agree" || echo "# FAN-OUT RESULTS DIFFER"

# Rate budget: 20 requests a second with a burst of 5, two backends at once.
q <<SQL
CREATE SERVER budget FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url '$PROVIDER_URL/run=budget', rate_limit '20', rate_burst '5');
CREATE FOREIGN TABLE budget_c (meter_id text) SERVER budget
  OPTIONS (endpoint '/consumption?page_size=20000', records_path 'results', pagination 'next_url');
CREATE SERVER stats FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url '$PROVIDER_URL');
CREATE FOREIGN TABLE budget_stats (requests int, max_per_second int) SERVER stats
  OPTIONS (endpoint '/_stats', records_path 'runs.budget');
SQL
t=$(now)
q -c "SELECT count(*) FROM budget_c" >/dev/null &
q -c "SELECT count(*) FROM budget_c" >/dev/null &
wait
echo "budget_s=$(since "$t")"
q -c "SELECT 'budget_requests=' || requests || E'\nbudget_max_per_second=' || max_per_second FROM budget_stats"
