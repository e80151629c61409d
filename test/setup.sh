#!/usr/bin/env bash
# Installs, by Debian package name, everything scaler_fdw needs to build, demo, test and benchmark.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config make
  postgresql-15 postgresql-server-dev-15 postgresql-15-cron
  libcurl4-openssl-dev libjson-c-dev libxml2-dev libexpat1-dev
  libipc-run-perl perl
  python3 curl procps openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]}; run this script as root (or: sudo $0)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's postgresql-common starts a "main" cluster on install; the project never uses it.
exit 0
