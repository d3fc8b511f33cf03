#!/usr/bin/env bash
# Installs what the product needs and is missing: the libpq and libcurl headers, pkg-config,
# a Postgres server (initdb/pg_ctl for the embedded cluster, pgbench for benchmarks), and PgBouncer
# (the tests of the client behind a transaction-mode pooler, Tests/PostgresTests/PgBouncerTests.swift).
set -euo pipefail
need=()
# chromium and chromium-driver: the status page's real-browser test (Tests/ServerTests/BrowserTests.swift).
for pkg in libpq-dev libcurl4-openssl-dev pkg-config postgresql postgresql-contrib pgbouncer chromium chromium-driver; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The tests check DKIM signatures with an independent implementation: dkimpy (PyPI).
if ! python3 -c "import dkim" >/dev/null 2>&1; then
    echo "installing: dkimpy (PyPI; the tests' independent DKIM verifier)"
    if ! command -v python3 >/dev/null 2>&1; then
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-pip >/dev/null
    fi
    python3 -m pip install --quiet dkimpy 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages dkimpy
fi
# The tests parse /metrics with the Prometheus project's own text-format parser (PyPI).
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
    echo "installing: prometheus-client (PyPI; the tests' Prometheus text-format parser)"
    python3 -m pip install --quiet prometheus-client 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages prometheus-client
fi
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    echo "note: add /opt/swift/usr/bin to PATH" >&2
fi
