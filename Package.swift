// swift-tools-version:6.1
// followup: support conversations that follow the customer — Postgres is the store and the queue.
// Linux only: the Postgres client waits on epoll (Sources/CEpoll), so no Apple platform is claimed.
import PackageDescription

let package = Package(
    name: "followup",
    products: [
        .executable(name: "followup", targets: ["FollowupCLI"]),
        .library(name: "Postgres", targets: ["Postgres"]),
        .library(name: "Jobs", targets: ["Jobs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        // ES256 (APNs token auth) and RS256 (FCM service accounts): JWT signing Foundation lacks on Linux.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
        // `followup serve`: the product's HTTP face (webhooks, inbound mail, unsubscribe), on a
        // maintained server that runs as a swift-service-lifecycle Service.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        // Metrics (docs/operations.md): the Jobs and FollowUp modules emit through swift-metrics'
        // API; `serve` and `run --metrics-port` export them with the maintained Prometheus backend.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
    ],
    targets: [
        // C boundaries: headers plus a shim.h of static inline wrappers.
        .systemLibrary(
            name: "CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),

        // epoll and eventfd wrappers for the Postgres client's I/O loop (Linux only).
        .target(name: "CEpoll"),

        // A small, safe libpq client. Knows nothing of jobs.
        .target(name: "Postgres", dependencies: [
            "CLibPQ", .target(name: "CEpoll", condition: .when(platforms: [.linux])), .product(name: "Logging", package: "swift-log"),
        ]),
        // A throwaway Postgres (initdb + pg_ctl in a temporary directory) for the demo, the
        // benchmarks and the tests. Not part of the client: it runs server binaries.
        .target(name: "EmbeddedPostgres", dependencies: [
            "Postgres", .product(name: "Logging", package: "swift-log"),
        ]),
        // HTTP(S) and SMTP over libcurl's multi interface.
        .target(name: "Outbound", dependencies: ["CCurl"]),
        // Compiles a target's SQL/ folder into it (the binary carries its schema; no resource bundle).
        .executableTarget(name: "EmbedSQLTool", path: "Plugins/EmbedSQLTool"),
        .plugin(name: "EmbedSQL", capability: .buildTool(), dependencies: ["EmbedSQLTool"]),

        // The generic Postgres job queue. Knows nothing of follow-ups. Owns its tables (SQL/).
        .target(name: "Jobs", dependencies: [
            "Postgres",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], exclude: ["SQL"], plugins: ["EmbedSQL"]),
        // Push, messenger, SMS, email and payment adapters, each behind a protocol.
        .target(name: "Providers", dependencies: [
            "Outbound", .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        // The SMS wallet: double-entry ledger, holds, auto-charge, monthly credit.
        .target(name: "Wallet", dependencies: [
            "Postgres", "Jobs", "Providers", .product(name: "Logging", package: "swift-log"),
        ], exclude: ["SQL"], plugins: ["EmbedSQL"]),
        // The product's rules: presence, eligibility, the channel plan, text routing, email.
        .target(name: "FollowUp", dependencies: [
            "Postgres", "Jobs", "Outbound", "Providers", "Wallet",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], exclude: ["SQL"], plugins: ["EmbedSQL"]),
        // `followup serve`: provider webhooks, inbound mail, unsubscribe (docs/webhooks.md).
        // Routes are grouped per concern, one file each (see ServerApp.swift).
        .target(name: "Server", dependencies: [
            "Postgres", "FollowUp", "Providers", "Jobs", "Schema", "Wallet",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The product's whole schema: every module's migration line in order, the roles and grants.
        .target(name: "Schema", dependencies: [
            "Postgres", "Jobs", "FollowUp", "Wallet", .product(name: "Logging", package: "swift-log"),
        ], exclude: ["SQL"], plugins: ["EmbedSQL"]),
        // Loopback servers shaped like the real providers (HTTP APIs, SMTP), for the demo and tests.
        .target(name: "Fakes", dependencies: ["Outbound"]),
        // The CLI: the `followup` binary (its folder is not a case-variant of FollowUp/: macOS and Windows
        // checkouts are case-insensitive).
        .executableTarget(name: "FollowupCLI", dependencies: [
            "EmbeddedPostgres",
            "Postgres", "Jobs", "Schema", "FollowUp", "Wallet", "Providers", "Fakes", "Server",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // Shared by the tests: one embedded cluster per test run, a fresh database per test.
        .target(name: "TestSupport", dependencies: ["Postgres", "EmbeddedPostgres", "Schema", .product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "EmbeddedPostgres", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "OutboundTests", dependencies: ["Outbound", "Fakes"]),
        .testTarget(name: "ProvidersTests", dependencies: [
            "Providers", "Fakes", "Outbound", "TestSupport",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "Schema", "EmbeddedPostgres", "TestSupport"]),
        // Runs the built `followup` binary as a real process (signals, crashes, CLI errors).
        .testTarget(name: "CLITests", dependencies: ["Jobs", "Postgres", "EmbeddedPostgres", "Fakes", "TestSupport", "Outbound"]),
        // The poller the chaos test SIGKILLs: `followup run`'s handlers with test timings.
        .executableTarget(name: "ChaosPoller", dependencies: [
            "FollowUp", "Jobs", "Postgres", "Providers", "Wallet", "Outbound",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Tests/ChaosPoller"),
        .testTarget(name: "FollowUpTests", dependencies: ["FollowUp", "Schema", "EmbeddedPostgres", "Providers", "Fakes", "TestSupport", "Server"]),
        // `followup serve` on real sockets, `followup mail-in` as a process; mail fixtures from real clients.
        .testTarget(name: "ServerTests", dependencies: [
            "Server", "EmbeddedPostgres", "FollowUp", "Providers", "Fakes", "Outbound", "Postgres", "TestSupport", "Jobs", "Schema",
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "WalletTests", dependencies: ["Wallet", "Fakes", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
