import CEpoll
import Foundation

/// The Postgres client's one I/O loop: one thread that waits on every connection's socket
/// (epoll) and resumes the task waiting for it. Everything that waits for the server goes
/// through here — connecting (`PQconnectPoll`), queries and pipelines, scripts, ROLLBACK, and
/// `Listener`'s LISTEN sockets. A query is sent and its results are read on the calling task's
/// own thread, with libpq in nonblocking mode; only the wait goes through this thread.
///
/// Handing each query to a thread of its connection instead (and that thread parking in
/// `poll()`) cost two thread wake-ups per round trip; this thread, when busy, collects many
/// sockets per wake-up.
final class PostgresIOLoop: @unchecked Sendable {
    // @unchecked: `waiting` and `deadlines` are guarded by `lock`; `epoll` and `wakeup` are set once.
    static let shared = PostgresIOLoop()

    /// Why a wait ended.
    enum Wakeup: Sendable, Equatable {
        /// The socket is ready (or failed, or could not be watched): the next libpq call finds out which.
        case ready
        /// The deadline passed first.
        case timedOut
        /// `interrupt(_:)` ended it (the waiting task was cancelled, or its owner is stopping).
        case interrupted
    }

    private struct Waiter {
        var continuation: UnsafeContinuation<Wakeup, Never>
        var deadline: ContinuousClock.Instant?
    }

    private let epoll: Int32
    /// An eventfd in the epoll set: written when a waiter brings a deadline earlier than the
    /// one the loop sleeps towards. Queries bring none, so their path never writes it.
    private let wakeup: Int32
    private let lock = NSLock()
    private var waiting: [Int32: Waiter] = [:]
    private var deadlineCount = 0

    private init() {
        epoll = followup_epoll_create()
        wakeup = followup_eventfd_create()
        if epoll >= 0, wakeup >= 0 { _ = followup_epoll_watch(epoll, wakeup) }
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "followup.postgres.io"
        thread.start()
    }

    /// Returns when `socket` is readable (or writable), has failed, or could not be watched: the
    /// caller's next libpq call then finds out which. The query path: no deadline, not cancellable
    /// (a cancelled query is cancelled on the server, and its answer is still awaited).
    func wait(for socket: Int32, writable: Bool = false) async {
        guard epoll >= 0 else {
            // No epoll set (the process ran out of descriptors when it was made): block this
            // thread in poll() instead, rather than spin.
            _ = followup_wait_socket(socket, writable ? 1 : 0)
            return
        }
        _ = await withUnsafeContinuation { (continuation: UnsafeContinuation<Wakeup, Never>) in
            lock.withLock { waiting[socket] = Waiter(continuation: continuation, deadline: nil) }
            if followup_epoll_arm(epoll, socket, writable ? 1 : 0) != 0 {
                lock.withLock { waiting.removeValue(forKey: socket) }?.continuation.resume(returning: .ready)
            }
        }
    }

    /// Like `wait(for:writable:)`, but also ends at `deadline`, or when the calling task is
    /// cancelled (`.interrupted`). For connecting and for LISTEN sockets.
    func wait(for socket: Int32, writable: Bool = false, until deadline: ContinuousClock.Instant?) async -> Wakeup {
        guard epoll >= 0, wakeup >= 0 else {
            _ = followup_wait_socket(socket, writable ? 1 : 0)
            return .ready
        }
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Wakeup, Never>) in
                let registered: Bool = lock.withLock {
                    // Checked under the lock: a cancellation after this finds the waiter registered.
                    if Task.isCancelled { return false }
                    waiting[socket] = Waiter(continuation: continuation, deadline: deadline)
                    if deadline != nil { deadlineCount += 1 }
                    return true
                }
                guard registered else { return continuation.resume(returning: .interrupted) }
                if deadline != nil { followup_eventfd_signal(wakeup) }  // the loop recomputes its timeout
                if followup_epoll_arm(epoll, socket, writable ? 1 : 0) != 0 {
                    take(socket)?.continuation.resume(returning: .ready)
                }
            }
        } onCancel: {
            self.interrupt(socket)
        }
    }

    /// Ends the wait on `socket`, if any, with `.interrupted`.
    func interrupt(_ socket: Int32) {
        take(socket)?.continuation.resume(returning: .interrupted)
    }

    private func take(_ socket: Int32) -> Waiter? {
        lock.withLock {
            let waiter = waiting.removeValue(forKey: socket)
            if waiter?.deadline != nil { deadlineCount -= 1 }
            return waiter
        }
    }

    private func run() {
        var ready = [Int32](repeating: 0, count: 64)
        var timeout: Int32 = -1
        while epoll >= 0 {
            let count = followup_epoll_wait(epoll, &ready, Int32(ready.count), timeout)
            // Drained before the waiters are read: a waiter that signals after this is seen next time.
            if count > 0, ready[0..<Int(count)].contains(wakeup) { followup_eventfd_drain(wakeup) }
            var resumed: [(UnsafeContinuation<Wakeup, Never>, Wakeup)] = []
            timeout = lock.withLock {
                for fd in ready[0..<max(0, Int(count))] {
                    if fd == wakeup { continue }
                    if let waiter = waiting.removeValue(forKey: fd) {
                        if waiter.deadline != nil { deadlineCount -= 1 }
                        resumed.append((waiter.continuation, .ready))
                    }
                }
                guard deadlineCount > 0 else { return -1 }
                let now = ContinuousClock.now
                for (fd, waiter) in waiting where waiter.deadline.map({ $0 <= now }) == true {
                    waiting.removeValue(forKey: fd)
                    deadlineCount -= 1
                    resumed.append((waiter.continuation, .timedOut))
                }
                return nextTimeoutMilliseconds()
            }
            for (continuation, wakeup) in resumed { continuation.resume(returning: wakeup) }
        }
    }

    /// epoll_wait's timeout: forever when no waiter has a deadline (the query path).
    private func nextTimeoutMilliseconds() -> Int32 {
        guard deadlineCount > 0 else { return -1 }
        let now = ContinuousClock.now
        guard let earliest = waiting.values.compactMap(\.deadline).min() else { return -1 }
        guard earliest > now else { return 0 }
        let (seconds, attoseconds) = (earliest - now).components
        return Int32(min(60_000, seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1))
    }
}
