#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Outbound

/// Why a fake server could not start.
public struct FakeServerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "FakeServerError: \(message)" }
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

/// A connected socket with a read buffer: blocking reads of lines and byte counts.
final class Connection {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Reads more bytes into the buffer; false at end of stream or on error.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                if start > 0 {
                    buffer.removeFirst(start)
                    start = 0
                }
                buffer.append(contentsOf: chunk[0..<count])
                return true
            }
            if count < 0 && errno == EINTR { continue }
            return false
        }
    }

    /// The next line without its line break (CRLF or bare LF); nil at end of stream.
    /// Lines longer than `limit` bytes end the stream.
    func readLine(limit: Int = 1 << 20) -> [UInt8]? {
        var scanned = 0  // bytes after `start` already searched for a newline
        while true {
            if let newline = buffer[(start + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = Array(buffer[start..<end])
                start = newline + 1
                return line
            }
            scanned = buffer.count - start
            if scanned > limit { return nil }
            guard fill() else { return nil }
        }
    }

    /// Exactly `count` bytes; nil if the stream ends first.
    func read(count: Int) -> [UInt8]? {
        while buffer.count - start < count {
            guard fill() else { return nil }
        }
        let bytes = Array(buffer[start..<start + count])
        start += count
        return bytes
    }

    /// Writes all of `bytes`; false if the peer went away.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
            let flags = Int32(MSG_NOSIGNAL)
            #else
            let flags: Int32 = 0
            #endif
            let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress! + offset, $0.count - offset, flags) }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    @discardableResult
    func write(_ text: String) -> Bool {
        write(Array(text.utf8))
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

private func closeDescriptor(_ descriptor: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(descriptor)
    #else
    _ = Darwin.close(descriptor)
    #endif
}

/// Starts a detached thread running `body`.
func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    thread.stackSize = 512 * 1024
    thread.start()
}
