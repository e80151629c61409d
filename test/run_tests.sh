#!/usr/bin/env bash
# Runs every test suite of scaler_fdw against real servers on loopback and
# ends with one line "N passed, N failed"; exits non-zero on any failure.
#   1. the test servers' own self-test (Python unittest)
#   2. pg_regress suites (sql/, expected/) in a throwaway cluster
#   3. TAP tests (test/t/) with PostgreSQL::Test::Cluster, run as postgres
set -uo pipefail
source "$(dirname "$0")/lib.sh"

passed=0
failed=0
report() { # suite passed failed
  echo "== $1: $2 passed, $3 failed"
  passed=$((passed + $2))
  failed=$((failed + $3))
}

scaler_build_install

scaler_start_server PROVIDER provider_server.py
scaler_start_server SANDBOX scaler_sandbox.py
export PROVIDER_URL="http://127.0.0.1:$PROVIDER_PORT"
export SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"

# The same provider over TLS, with a throwaway self-signed certificate, and a
# plain-HTTP twin for redirects from https to http.
tls="$SCALER_TMP/tls"
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -days 2 \
  -keyout "$tls/key.pem" -out "$tls/cert.pem" >/dev/null 2>&1
chmod 644 "$tls"/*.pem
scaler_start_server TLS_PROVIDER provider_server.py --tls-cert "$tls/cert.pem" --tls-key "$tls/key.pem" \
  --also-http-port-file "$tls/http.port"
export TLS_PROVIDER_URL="https://127.0.0.1:$TLS_PROVIDER_PORT"
export TLS_CA_FILE="$tls/cert.pem"

# 1. server self-test
out="$SCALER_TMP/servers.out"
"$PYTHON" "$ROOT/test/test_servers.py" >"$out" 2>&1
rc=$?
tail -n 3 "$out"
ran=$(sed -n 's/^Ran \([0-9]*\) tests\?.*/\1/p' "$out" | tail -n 1)
bad=$(sed -n 's/^FAILED (\(.*\))/\1/p' "$out" | grep -o '[0-9]\+' | awk '{s += $1} END {print s + 0}')
ran=${ran:-0}
bad=${bad:-0}
if { [ "$rc" -ne 0 ] || [ "$ran" -eq 0 ]; } && [ "$bad" -eq 0 ]; then bad=1; fi
[ "$bad" -gt 0 ] && cat "$out"
report "server self-test" $((ran - bad > 0 ? ran - bad : 0)) "$bad"

# The README's worked example is run by sql/readme_example.sql: the two
# copies of its profile must not drift apart.
extract() { sed -n '/^CREATE SERVER gridpulse FOREIGN DATA WRAPPER/,/^\$json\$);/p' "$1"; }
if [ -n "$(extract "$ROOT/README.md")" ] && diff <(extract "$ROOT/README.md") <(extract "$ROOT/sql/readme_example.sql") >/dev/null; then
  report "README example is the tested one" 1 0
else
  echo "README.md's worked example differs from sql/readme_example.sql"
  report "README example is the tested one" 0 1
fi

# 2. pg_regress
out="$SCALER_TMP/regress.out"
rm -rf "$ROOT/results" "$ROOT/regression.diffs" "$ROOT/regression.out"
pg_virtualenv -t -v "$PG_MAJOR" make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" installcheck >"$out" 2>&1
grep -E '\.\.\. ' "$out"
ok=$(grep -cE '\.\.\. +ok' "$out")
bad=$(grep -cE '\.\.\. +FAILED|\.\.\. +failed' "$out")
if ! grep -qE 'All [0-9]+ tests passed' "$out" && [ "$bad" -eq 0 ]; then
  bad=1
  cat "$out"
fi
if [ -f "$ROOT/regression.diffs" ]; then
  head -n 200 "$ROOT/regression.diffs"
fi
report "pg_regress" "$ok" "$bad"

# 3. TAP, as postgres: initdb refuses root
tapdir="$SCALER_TMP/tap"
mkdir -p "$tapdir"
cp -r "$ROOT/test/t" "$tapdir/"
chown -R postgres: "$tapdir"
out="$SCALER_TMP/tap.out"
(cd "$tapdir" && runuser -u postgres -- env \
    PATH="$PG_BINDIR:$PATH" \
    PERL5LIB="$($PG_CONFIG --pkglibdir)/pgxs/src/test/perl" \
    PG_REGRESS="$($PG_CONFIG --pkglibdir)/pgxs/src/test/regress/pg_regress" \
    TESTDIR="$tapdir" PROVIDER_URL="$PROVIDER_URL" SANDBOX_URL="$SANDBOX_URL" \
    prove --timer -v t/*.pl >"$out" 2>&1)
rc=$?
grep -E '^(ok|not ok) ' "$out"
ok=$(grep -cE '^ok [0-9]+ ' "$out")
bad=$(grep -cE '^not ok [0-9]+ ' "$out")
if { [ "$rc" -ne 0 ] || [ "$ok" -eq 0 ]; } && [ "$bad" -eq 0 ]; then
  bad=1
  cat "$out"
  tail -n 50 "$tapdir"/tmp_check/log/*.log 2>/dev/null
elif [ "$bad" -gt 0 ]; then
  cat "$out"
fi
report "TAP" "$ok" "$bad"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
