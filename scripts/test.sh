#!/usr/bin/env bash
# Sets up what is missing, builds, and runs the whole test suite against a real Postgres that the
# test run starts itself (or the server DATABASE_URL names).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
swift build --build-tests
swift test --skip-build "$@"
