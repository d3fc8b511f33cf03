#!/usr/bin/env bash
# Installs what the product needs and is missing: the libpq and libcurl headers, pkg-config,
# and a Postgres server (initdb/pg_ctl for the embedded cluster, pgbench for benchmarks).
set -euo pipefail
need=()
for pkg in libpq-dev libcurl4-openssl-dev pkg-config postgresql postgresql-contrib; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    echo "note: add /opt/swift/usr/bin to PATH" >&2
fi
