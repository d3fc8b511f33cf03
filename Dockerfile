# followup as a container: a Swift build stage, then a slim Debian with only what the binary
# needs at run time — libpq and libcurl (the Swift runtime is linked in statically; libstdc++6
# is in the slim image already, named for clarity). The runtime packages are the ones
# scripts/check-release.sh proves sufficient (it checks the binary needs nothing else).
#
#   docker build -t followup .
#   docker run --rm --env-file /etc/followup/followup.env followup migrate
#   docker run -d --env-file /etc/followup/followup.env followup run --queues default=16

# ── build ─────────────────────────────────────────────────────────────────────────────────────
FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq-dev libcurl4-openssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY . .
RUN ./scripts/release.sh --no-check && cp "$(swift build -c release --show-bin-path)/followup" /followup

# ── run ───────────────────────────────────────────────────────────────────────────────────────
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq5 libcurl4 libstdc++6 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin followup
COPY --from=build /followup /usr/local/bin/followup
USER followup
ENTRYPOINT ["/usr/local/bin/followup"]
CMD ["run"]
