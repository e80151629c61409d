# Shared shell helpers for test/run_tests.sh, test/demo.sh and test/bench/run_bench.sh.
# Source it; it defines functions and variables only.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BINDIR/pg_config
PYTHON=/usr/bin/python3
export PG_CONFIG

SCALER_TMP=$(mktemp -d /tmp/scaler_fdw.XXXXXX)
chmod 755 "$SCALER_TMP"
SCALER_PIDS=()

scaler_cleanup() {
  local pid
  for pid in "${SCALER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${SCALER_PIDS[@]}"; do
    wait "$pid" 2>/dev/null
  done
  rm -rf "$SCALER_TMP"
}
trap scaler_cleanup EXIT

scaler_build_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "installing the extension needs root (it writes to $($PG_CONFIG --pkglibdir))" >&2
    exit 1
  fi
  make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" all >/dev/null
  make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# scaler_start_server NAME SCRIPT [ARGS...]: start a test server on a free
# loopback port and set ${NAME}_PORT; it is stopped when the script exits.
scaler_start_server() {
  local name=$1 script=$2
  shift 2
  local portfile="$SCALER_TMP/$name.port"
  "$PYTHON" "$ROOT/test/$script" --port 0 --port-file "$portfile" "$@" \
    >"$SCALER_TMP/$name.log" 2>&1 &
  SCALER_PIDS+=($!)
  local i
  for i in $(seq 1 200); do
    if [ -s "$portfile" ]; then
      printf -v "${name}_PORT" '%s' "$(cat "$portfile")"
      return 0
    fi
    sleep 0.05
  done
  echo "test server $name did not start:" >&2
  cat "$SCALER_TMP/$name.log" >&2
  exit 1
}
