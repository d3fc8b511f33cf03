#!/usr/bin/env bash
# Proves a release binary runs on a server that never built it: copies the binary alone into a
# clean temporary directory and runs it in a private mount namespace where the Swift toolchain
# (/opt/swift) and this project (sources, .build, resource bundles) are hidden under empty tmpfs
# mounts. There it runs `followup --version`, `followup migrate` (against DATABASE_URL if set,
# else a throwaway Postgres this script starts) and `followup demo` (its own embedded Postgres).
# What the binary may use from the OS: libc, libpq, libcurl (ldd is checked first), and the
# Postgres server binaries the demo's embedded cluster runs.
#
#   sudo scripts/check-release.sh [path/to/followup]     (default: the release build's binary)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd -P)"
[ "$(id -u)" -eq 0 ] || { echo "check-release: needs root (unshare --mount, tmpfs)" >&2; exit 2; }
bin="${1:-}"
if [ -z "$bin" ]; then
    [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
    bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/followup"
fi
[ -x "$bin" ] || { echo "check-release: no binary at $bin (run scripts/release.sh)" >&2; exit 2; }

echo "── ldd: no Swift runtime libraries, only what the OS provides"
if ldd "$bin" | grep -i 'libswift\|libFoundation\|libdispatch\|not found'; then
    echo "check-release: FAIL — the binary needs the libraries above" >&2
    exit 1
fi
ldd "$bin" | sed 's/^/  /'

# The Debian packages its direct dependencies come from must be the Dockerfile's runtime ones
# (libpq5 libcurl4 libstdc++6) or the base image's (libc6 libgcc-s1).
allowed="libc6 libgcc-s1 libstdc++6 libpq5 libcurl4"
echo "── Debian packages it needs (allowed: $allowed)"
for lib in $(readelf -d "$bin" | awk '/NEEDED/ { gsub(/[][]/, "", $5); print $5 }'); do
    pkg="$(dpkg -S "*/$lib" 2>/dev/null | head -1 | cut -d: -f1)"
    echo "  $lib  ← ${pkg:-?}"
    case " $allowed " in *" $pkg "*) ;; *) echo "check-release: FAIL — $lib comes from ${pkg:-no package}, not from $allowed" >&2; exit 1 ;; esac
done

work="$(mktemp -d /tmp/followup-release-XXXXXX)"
pg_pid_dir=""
cleanup() {
    if [ -n "$pg_pid_dir" ]; then su postgres -s /bin/sh -c "'$pg_bin/pg_ctl' -D '$pg_pid_dir/data' -m immediate stop" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/server"
chmod 755 "$work" "$work/server"
cp "$bin" "$work/server/followup"   # the binary alone: no resource bundle next to it

url="${DATABASE_URL:-}"
if [ -z "$url" ]; then
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -x "$pg_bin/initdb" ] || { echo "check-release: no Postgres server binaries; set DATABASE_URL" >&2; exit 2; }
    pg_pid_dir="$work/pg"
    port=$((20000 + RANDOM % 20000))
    mkdir -p "$pg_pid_dir"
    chown postgres "$pg_pid_dir"
    su postgres -s /bin/sh -c "'$pg_bin/initdb' -D '$pg_pid_dir/data' -U postgres --auth=trust >/dev/null \
        && '$pg_bin/pg_ctl' -D '$pg_pid_dir/data' -l '$pg_pid_dir/log' -w \
           -o \"-p $port -k $pg_pid_dir -c listen_addresses=''\" start >/dev/null"
    url="postgresql://postgres@/postgres?host=$pg_pid_dir&port=$port"
fi

echo "── in a mount namespace with /opt/swift and $repo hidden"
unshare --mount --propagation private env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DATABASE_URL="$url" REPO="$repo" WORK="$work" /bin/bash -euo pipefail -c '
    [ -d /opt/swift ] && mount -t tmpfs -o ro tmpfs /opt/swift
    mount -t tmpfs -o ro tmpfs "$REPO"
    if [ -e /opt/swift/usr/bin/swift ] || [ -e "$REPO/Package.swift" ]; then echo "toolchain or project still visible" >&2; exit 1; fi
    cd "$WORK/server"
    echo "\$ followup --version"; ./followup --version
    echo "\$ followup migrate"; ./followup migrate
    echo "\$ followup migrate   (again: nothing to do)"; ./followup migrate
    echo "\$ followup demo"; env -u DATABASE_URL ./followup demo
'
echo "check-release: OK — $bin runs without the toolchain or the build folder"
