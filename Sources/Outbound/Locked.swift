import Foundation

/// A value guarded by a lock: how this module shares mutable state between threads (the curl
/// thread and the tasks that submit or cancel work), and the loopback fakes too (they import
/// Outbound). The Postgres side has its twin, `LockedValue`: neither module depends on the other.
///
/// `@unchecked Sendable` holds because `value` is only read or written inside
/// `withLock`, which serialises every access through `lock`.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
