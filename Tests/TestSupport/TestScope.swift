import Postgres

/// Runs `body`, then `cleanup` — awaited, whether `body` returned or threw.
///
/// The scoped helpers (`withTestScope`, `withFollowUpHarness`, `StatusPageTests.withWorld`) are
/// built on it. A `defer { Task { await x.close() } }` is what they replace: that task is not
/// awaited, so the resource outlives the test, and whatever the test tears down synchronously
/// (a cluster's `stop()`) goes first.
public func withCleanup<T>(_ body: () async throws -> T, cleanup: () async -> Void) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
    return result
}

/// Runs `body` with a `TestScope`: what the test opens as it goes (pools, servers, clusters)
/// is registered with the scope and closed when `body` ends, the last opened first — awaited,
/// whether `body` returned or threw.
///
/// ```swift
/// try await withTestScope { scope in
///     let cluster = try await EmbeddedCluster.start()
///     scope.onEnd { cluster.stop() }
///     let admin = scope.closing(ConnectionPool(cluster.configuration, maxConnections: 2))
///     …
/// }
/// ```
public func withTestScope<T>(_ body: (TestScope) async throws -> T) async throws -> T {
    let scope = TestScope()
    return try await withCleanup({ try await body(scope) }, cleanup: { await scope.end() })
}

/// What one test opened, to close when it ends (`withTestScope`).
public final class TestScope: Sendable {
    private let cleanups = LockedValue<[@Sendable () async -> Void]>([])

    public init() {}

    /// Runs `cleanup` when the scope ends, before whatever was registered earlier.
    public func onEnd(_ cleanup: @escaping @Sendable () async -> Void) {
        cleanups.withLock { $0.append(cleanup) }
    }

    /// `pool`, closed when the scope ends.
    public func closing(_ pool: ConnectionPool) -> ConnectionPool {
        onEnd { await pool.close() }
        return pool
    }

    /// A fresh database (`TestDatabase.fresh`) whose pool is closed when the scope ends.
    public func database(maxConnections: Int = 8) async throws -> TestDatabase {
        let db = try await TestDatabase.fresh(maxConnections: maxConnections)
        onEnd { await db.pool.close() }
        return db
    }

    /// Runs the cleanups, the last registered first, and forgets them. `withTestScope` calls
    /// it; a harness that owns a scope calls it from its own `stop()`.
    public func end() async {
        for cleanup in cleanups.withLock({ list in defer { list = [] }; return list }).reversed() {
            await cleanup()
        }
    }
}
