import Foundation

/// A value guarded by a lock, shared by a fake server's threads and its owner.
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
