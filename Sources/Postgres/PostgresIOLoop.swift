import CLibPQ
import Foundation

/// One thread that waits on every connection's socket (epoll) and resumes the task waiting for
/// it. A query is sent and its results are read on the calling task's own thread, with libpq in
/// nonblocking mode; only the wait for the server's answer goes through here.
///
/// Handing each query to a thread of its connection instead (and that thread parking in
/// `poll()`) cost two thread wake-ups per round trip; this thread, when busy, collects many
/// sockets per wake-up.
final class PostgresIOLoop: @unchecked Sendable {
    // @unchecked: `waiting` is guarded by `lock`; `epoll` is set once.
    static let shared = PostgresIOLoop()

    private let epoll: Int32
    private let lock = NSLock()
    private var waiting: [Int32: UnsafeContinuation<Void, Never>] = [:]

    private init() {
        epoll = followup_epoll_create()
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "followup.postgres.io"
        thread.start()
    }

    /// Returns when `socket` is readable (or writable), has failed, or could not be watched: the
    /// caller's next libpq call then finds out which.
    func wait(for socket: Int32, writable: Bool = false) async {
        guard epoll >= 0 else {
            // No epoll set (the process ran out of descriptors when it was made): block this
            // thread in poll() instead, rather than spin.
            _ = followup_wait_socket(socket, writable ? 1 : 0)
            return
        }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            lock.withLock { waiting[socket] = continuation }
            if followup_epoll_arm(epoll, socket, writable ? 1 : 0) != 0 {
                lock.withLock { waiting.removeValue(forKey: socket) }?.resume()
            }
        }
    }

    private func run() {
        var ready = [Int32](repeating: 0, count: 64)
        while epoll >= 0 {
            let count = followup_epoll_wait(epoll, &ready, Int32(ready.count), -1)
            guard count > 0 else { continue }  // EINTR
            let resumed = lock.withLock { ready[0..<Int(count)].compactMap { waiting.removeValue(forKey: $0) } }
            for continuation in resumed { continuation.resume() }
        }
    }
}
