import Foundation

/// A value guarded by a lock: the one place this module shares mutable state
/// between threads (the curl thread and the tasks that submit or cancel work).
///
/// `@unchecked Sendable` holds because `value` is only read or written inside
/// `withLock`, which serialises every access through `lock`.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
