#!/usr/bin/env bash
# Sets up what is missing, builds, and runs the whole test suite against a real Postgres that the
# test run starts itself (or the server DATABASE_URL names).
#
# Four runs of one build, so the tests that measure time are not measured on a machine the rest
# of the suite is loading: first the HTTP/SMTP client and provider tests (they check that calls
# overlap and time out promptly; a second each), then the follow-up flows (each runs pollers and
# provider fakes against deadlines of seconds), then everything else in parallel, then the chaos
# test (three pollers SIGKILLed, Postgres restarted) on its own, then the failover test (a primary
# stopped mid-run, its synchronous standby promoted) on its own. With arguments (e.g.
# `--filter Wallet`), one run with them instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
# In CI (CI=true), or when asked: the release binary, proven to run `migrate` and `demo` alone in an
# empty directory with the toolchain and this folder out of reach (scripts/check-release.sh; root).
if [ $# -eq 0 ] && { [ "${CI:-}" = true ] || [ "${FOLLOWUP_RELEASE_CHECK:-}" = 1 ]; }; then
    ./scripts/release.sh
fi
swift build --build-tests
if [ $# -gt 0 ]; then
    exec swift test --skip-build "$@"
fi
timed="OutboundTests|ProvidersTests"
flows="FollowUpTests"
chaos="ChaosTests"
# Alone too: the benchmarks' smoke tests (the sustained one checks that 100 jobs/s holds with
# p99 < 1 s, which a machine busy with every other suite cannot promise).
bench="BenchCommandTests"
failover="FailoverTests"
swift test --skip-build --filter "$timed"
swift test --skip-build --filter "$flows"
swift test --skip-build --skip "$timed" --skip "$flows" --skip "$chaos" --skip "$failover" --skip "$bench"
swift test --skip-build --filter "$chaos"
swift test --skip-build --filter "$failover"
swift test --skip-build --filter "$bench"
