#!/usr/bin/env bash
# Sets up what is missing, builds, and runs `followup demo`: a real follow-up flowing end to end
# on an embedded Postgres (and local provider fakes) that the demo starts and stops itself.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
swift build --product followup
exec .build/debug/followup demo "$@"
