#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Outbound

/// The accept side every loopback fake shares (HTTP, SMTP, DNS over TCP): a socket listening on
/// 127.0.0.1 at a port the kernel picks, one thread accepting, one thread per connection running
/// `serve`, and an idempotent `stop()` that closes the listener and wakes every connection.
final class LoopbackListener: Sendable {
    private let socket: ListeningSocket
    private let connections = ConnectionRegistry()
    private let stopped = Locked(false)

    /// Starts listening and accepting. `accepted` runs on the accept thread for each connection
    /// (before `serve`, which runs on the connection's own thread and owns it until it returns).
    init(name: String, accepted: @escaping @Sendable () -> Void = {}, serve: @escaping @Sendable (Connection) -> Void) throws {
        socket = try ListeningSocket()
        let (socket, connections) = (self.socket, self.connections)
        startThread(named: "fakes.\(name).accept") {
            while let descriptor = socket.accept() {
                guard connections.add(descriptor) else { break }
                accepted()
                startThread(named: "fakes.\(name).connection") {
                    serve(Connection(descriptor: descriptor))
                    connections.remove(descriptor)
                }
            }
            socket.release()
        }
    }

    deinit { stop() }

    /// The port it listens on.
    var port: Int { socket.port }

    /// Closes the listening socket and every connection. Idempotent.
    func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        socket.shutDown()
        connections.stopAll()
    }
}

/// A listening TCP socket on 127.0.0.1, on a port the kernel picks.
struct ListeningSocket: Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)  // not inherited by children
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw FakeServerError(message: "socket: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            let error = errno
            closeDescriptor(fd)
            throw FakeServerError(message: "bind/listen on 127.0.0.1: errno \(error)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Blocks until a client connects; nil once the socket was shut down.
    func accept() -> Int32? {
        while true {
            #if canImport(Glibc)
            let client = Glibc.accept(descriptor, nil, nil)
            if client >= 0 { _ = fcntl(client, F_SETFD, FD_CLOEXEC) }  // not inherited by children
            #else
            let client = Darwin.accept(descriptor, nil, nil)
            #endif
            if client >= 0 {
                #if canImport(Darwin)
                var yes: Int32 = 1
                setsockopt(client, SOL_SOCKET, SO_NOSIGPIPE, &yes, socklen_t(MemoryLayout<Int32>.size))
                #endif
                return client
            }
            switch errno {
            case EINTR, ECONNABORTED:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                usleep(10_000)  // out of descriptors for now: let connections finish
                continue
            default:
                return nil  // EINVAL once shut down
            }
        }
    }

    /// Stops listening and wakes the thread blocked in `accept` (which then
    /// returns nil). The descriptor stays open until that thread calls
    /// ``release()``, so its number cannot be reused by another socket while
    /// the thread may still call `accept` on it.
    func shutDown() {
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    /// Closes the descriptor; only the accept thread calls this, once, after `accept` returned nil.
    func release() {
        closeDescriptor(descriptor)
    }
}

/// The descriptors of open connections, so `stop()` can wake their threads.
final class ConnectionRegistry: Sendable {
    private struct State {
        var open: Set<Int32> = []
        var stopped = false
    }

    // Closing and shutting down happen under the lock, so a descriptor number
    // is never shut down after it was closed and reused.
    private let state = Locked(State())

    /// Registers `descriptor`; false (and closes it) if the server already stopped.
    func add(_ descriptor: Int32) -> Bool {
        state.withLock { state in
            guard !state.stopped else {
                closeDescriptor(descriptor)
                return false
            }
            state.open.insert(descriptor)
            return true
        }
    }

    /// Unregisters and closes `descriptor`.
    func remove(_ descriptor: Int32) {
        state.withLock { state in
            state.open.remove(descriptor)
            closeDescriptor(descriptor)
        }
    }

    /// Shuts down every open connection (their threads then see end of stream).
    func stopAll() {
        state.withLock { state in
            state.stopped = true
            for descriptor in state.open { shutdown(descriptor, Int32(SHUT_RDWR)) }
        }
    }
}
