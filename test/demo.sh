#!/usr/bin/env bash
# make demo: build and install scaler_fdw, start a throwaway PostgreSQL
# cluster, the bundled demo provider and the Scaler sandbox on loopback, and
# run test/demo.sql, printing each SQL step and its result. Cleans up after itself.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

echo "== building and installing scaler_fdw"
scaler_build_install

echo "== starting the demo provider and the Scaler sandbox on 127.0.0.1"
scaler_start_server PROVIDER provider_server.py --assets 5 --meters-per-asset 4 --readings 365
scaler_start_server SANDBOX scaler_sandbox.py --mirror-provider-assets 5 --mirror-meters-per-asset 4
export PROVIDER_URL="http://127.0.0.1:$PROVIDER_PORT"
export SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
echo "   provider: $PROVIDER_URL   Scaler sandbox: $SANDBOX_URL"

echo "== running the demo in a throwaway cluster"
(cd "$SCALER_TMP" && pg_virtualenv -t -v "$PG_MAJOR" psql -X -a -v ON_ERROR_STOP=1 -f "$ROOT/test/demo.sql")
echo "== demo finished; cluster and servers removed"
