#!/usr/bin/env bash
# Runs inside pg_virtualenv with scaler_fdw installed (plain psql connects).
# scaler.convert over 10,000,000 values against the plain numeric arithmetic
# it replaces, in the same session; best of 3 each.  Prints shell assignments
# of the figures (seconds) and '#' comment lines.
set -euo pipefail
N=${UNITS_BENCH_ROWS:-10000000}
REPS=3
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

q -c "CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE"

# Timed on the server, so connection set-up is not counted.  JIT is off: it
# compiles only the baseline's expressions (the extension ships no bitcode)
# and its compile time would be noise on either side.
best() { # name query
  q <<SQL
SET jit = off;
CREATE FUNCTION pg_temp.seconds(query text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
  t0 timestamptz := clock_timestamp();
BEGIN
  EXECUTE query;
  RETURN extract(epoch FROM clock_timestamp() - t0);
END
\$\$;
SELECT '$1=' || round(min(pg_temp.seconds(\$q\$$2\$q\$))::numeric, 3)
  FROM generate_series(1, $REPS);
SQL
}

out=$(
  best units_convert_s "SELECT sum(scaler.convert(g::numeric, 'kWh', 'MJ')) FROM generate_series(1, $N) g"
  best units_floor_s "SELECT sum(g::numeric * 3.6) FROM generate_series(1, $N) g"
  # a ratio that does not terminate: one multiplication and one division a row
  best units_divide_s "SELECT sum(scaler.convert(g::numeric, 'MJ', 'kWh')) FROM generate_series(1, $N) g"
  best units_divide_floor_s "SELECT sum(g::numeric * 5 / 18) FROM generate_series(1, $N) g"
  # a column of mixed units, as provider data comes (four units, one call site)
  best units_mixed_s "SELECT sum(scaler.convert(g::numeric, (ARRAY['kWh','MWh','therms','kBtu'])[g % 4 + 1], 'MJ')) FROM generate_series(1, $N) g"
  # sixteen units: more than a call site remembers, so most rows are
  # answered from the catalog cache's hash table
  best units_mixed16_s "SELECT sum(scaler.convert(g::numeric, (ARRAY['J','kJ','MJ','GJ','TJ','Wh','kWh','MWh','GWh','Btu','kBtu','MMBtu','therms','therm_EC','Dth','kcal_IT'])[g % 16 + 1], 'MJ')) FROM generate_series(1, $N) g"
)
echo "$out"
eval "$out"
echo "# rows: $N, best of $REPS, jit off"
echo "# convert vs floor: $(awk "BEGIN {printf \"%.2fx\", $units_convert_s / $units_floor_s}") (target: within 1.5x)"
echo "# dividing convert vs floor: $(awk "BEGIN {printf \"%.2fx\", $units_divide_s / $units_divide_floor_s}")"
echo "# mixed units vs floor: 4 units $(awk "BEGIN {printf \"%.2fx\", $units_mixed_s / $units_floor_s}"), 16 units $(awk "BEGIN {printf \"%.2fx\", $units_mixed16_s / $units_floor_s}")"
q -c "SELECT '# results agree: ' || ((SELECT sum(scaler.convert(g::numeric, 'kWh', 'MJ')) FROM generate_series(1, 100000) g)
                                  = (SELECT sum(g::numeric * 3.6) FROM generate_series(1, 100000) g))::text"
