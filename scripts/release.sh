#!/usr/bin/env bash
# Builds the release binary of `followup`: optimized, with the Swift runtime and Foundation linked
# in statically (--static-swift-stdlib), so a server needs only libpq and libcurl from its OS
# (Debian: libpq5, libcurl4, ca-certificates) — no Swift toolchain. Prints where it is.
# Then proves that with scripts/check-release.sh (root only: it needs a mount namespace), unless
# --no-check is given or we are not root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
check=1
[ "${1:-}" = "--no-check" ] && check=0

swift build -c release --static-swift-stdlib --product followup
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/followup"
if ldd "$bin" | grep -qi 'libswift\|libFoundation\|libdispatch'; then
    echo "release: $bin links Swift runtime libraries dynamically:" >&2
    ldd "$bin" | grep -i 'libswift\|libFoundation\|libdispatch' >&2
    exit 1
fi
echo "release: $bin ($("$bin" --version)); needs from the OS:"
ldd "$bin" | awk '{print "  " $1}' | grep -v 'linux-vdso\|ld-linux'

if [ "$check" = 1 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        ./scripts/check-release.sh "$bin"
    else
        echo "release: not root, skipping scripts/check-release.sh (it needs a mount namespace)" >&2
    fi
fi
