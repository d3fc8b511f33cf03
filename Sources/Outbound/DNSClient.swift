#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A small DNS stub client for one question type: TXT (RFC 1035), sent to one recursive
/// resolver — the first `nameserver` of `/etc/resolv.conf`, or a `host:port` given
/// (`FOLLOWUP_DNS_SERVER`; tests point it at a loopback server).
///
/// One query over UDP (with an EDNS0 OPT record asking for 1,232-byte answers); a reply
/// with the TC bit set is asked again over TCP. Replies whose id or question do not match
/// are ignored (an off-path spoof must guess both), and every lookup ends by `timeout`.
/// Blocking sockets on a thread of the lookup's own: DNS lookups here are rare (domain verification).
public struct DNSClient: Sendable {
    /// Where queries go.
    public struct Server: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int = 53) {
            self.host = host
            self.port = port
        }

        /// `host:port`, `host` (port 53), or `[v6]:port`.
        public init(parsing text: String) throws {
            var host = text.trimmingCharacters(in: .whitespaces)
            var port = 53
            if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
                let rest = host[host.index(after: close)...]
                if rest.hasPrefix(":") {
                    guard let value = Int(rest.dropFirst()) else { throw DNSError(.badServer, "port is not a number") }
                    port = value
                }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
                guard let value = Int(host[host.index(after: colon)...]) else { throw DNSError(.badServer, "port is not a number") }
                port = value
                host = String(host[..<colon])
            }
            guard !host.isEmpty, (1...65535).contains(port) else {
                throw DNSError(.badServer, "expected host:port with a numeric address, e.g. 127.0.0.1:5353")
            }
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

        /// The first `nameserver` line of `resolv.conf`.
        public static func system(resolvConf path: String = "/etc/resolv.conf") throws -> Server {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw DNSError(.badServer, "cannot read \(path) to find the system resolver; set FOLLOWUP_DNS_SERVER=host:port")
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if words.count >= 2, words[0] == "nameserver" {
                    // A scoped IPv6 address (fe80::1%eth0) keeps its scope: getaddrinfo understands it.
                    return Server(host: String(words[1]))
                }
            }
            throw DNSError(.badServer, "\(path) names no nameserver; set FOLLOWUP_DNS_SERVER=host:port")
        }
    }

    /// What a TXT lookup found.
    public enum TXTAnswer: Sendable, Equatable {
        /// Each record's character-strings, in order (a long record is split into several).
        case records([[String]])
        /// The name does not exist (NXDOMAIN).
        case noSuchName
        /// The name exists but has no TXT record.
        case noRecords

        /// Each record as one string (its character-strings concatenated, as DKIM and SPF read them).
        public var joined: [String] {
            guard case .records(let records) = self else { return [] }
            return records.map { $0.joined() }
        }
    }

    public var server: Server
    public var timeout: Duration

    public init(server: Server, timeout: Duration = .seconds(5)) {
        self.server = server
        self.timeout = timeout
    }

    /// The TXT records at `name` (e.g. `followup1._domainkey.acme.example`).
    public func txt(_ name: String) async throws -> TXTAnswer {
        let query = try DNSWire.query(name: name, id: UInt16.random(in: 0...UInt16.max))
        let server = self.server
        let deadline = ContinuousClock.now + timeout
        // A thread of its own, not a dispatch queue's: the lookup blocks in poll() until its deadline,
        // and a busy global queue would start it late. Lookups are rare (domain verification).
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try DNSClient.exchange(query, server: server, deadline: deadline) })
            }
            thread.name = "followup.dns"
            thread.stackSize = 256 * 1024
            thread.start()
        }
    }

    private static func exchange(_ query: DNSWire.Query, server: Server, deadline: ContinuousClock.Instant) throws -> TXTAnswer {
        let udp = try DNSSocket(server, datagram: true)
        defer { udp.close() }
        try udp.send(query.bytes)
        while true {
            let reply = try udp.receive(deadline: deadline)
            guard let parsed = try DNSWire.parse(reply, for: query) else { continue }  // not the answer to our question
            if parsed.truncated { break }
            return try parsed.answer()
        }
        // Truncated: the same question over TCP, two-byte length prefixed.
        let tcp = try DNSSocket(server, datagram: false, deadline: deadline)
        defer { tcp.close() }
        try tcp.send([UInt8(query.bytes.count >> 8), UInt8(query.bytes.count & 0xFF)] + query.bytes)
        let header = try tcp.read(count: 2, deadline: deadline)
        let reply = try tcp.read(count: Int(header[0]) << 8 | Int(header[1]), deadline: deadline)
        guard let parsed = try DNSWire.parse(reply, for: query) else {
            throw DNSError(.malformedReply, "the TCP reply does not answer our question")
        }
        return try parsed.answer()
    }
}

/// Why a lookup failed; never carries the records.
public struct DNSError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case badServer, badName, timeout, network, malformedReply, serverFailure }
    public var code: Code
    public var detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
    public var description: String {
        switch code {
        case .timeout: "DNS lookup timed out (\(detail))"
        case .serverFailure: "the DNS server could not answer (\(detail))"
        default: "DNS \(code.rawValue): \(detail)"
        }
    }
}

/// Encoding the question and decoding the answer (RFC 1035 §4, RFC 6891 for the OPT record).
enum DNSWire {
    struct Query {
        var id: UInt16
        var question: [UInt8]  // QNAME QTYPE QCLASS, as sent
        var bytes: [UInt8]
    }

    struct Reply {
        var rcode: Int
        var truncated: Bool
        var txt: [[String]]
        func answer() throws -> DNSClient.TXTAnswer {
            switch rcode {
            case 0: return txt.isEmpty ? .noRecords : .records(txt)
            case 3: return .noSuchName
            case 2: throw DNSError(.serverFailure, "SERVFAIL")
            case 5: throw DNSError(.serverFailure, "REFUSED")
            default: throw DNSError(.serverFailure, "rcode \(rcode)")
            }
        }
    }

    static let typeTXT: UInt16 = 16
    static let typeOPT: UInt16 = 41

    static func query(name: String, id: UInt16) throws -> Query {
        var question: [UInt8] = []
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            let bytes = Array(label.utf8)
            guard (1...63).contains(bytes.count), bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw DNSError(.badName, "not a DNS name (labels of 1 to 63 ASCII characters)")
            }
            question.append(UInt8(bytes.count))
            question += bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        }
        question.append(0)
        guard question.count <= 255 else { throw DNSError(.badName, "name longer than 255 bytes") }
        question += be16(typeTXT) + be16(1)
        // Header: id, RD, one question, no answers, one additional (OPT).
        var bytes = be16(id) + [0x01, 0x00] + be16(1) + be16(0) + be16(0) + be16(1)
        bytes += question
        // OPT: root name, type 41, UDP payload size 1232, extended rcode/version/flags 0, no options.
        bytes += [0] + be16(typeOPT) + be16(1232) + [0, 0, 0, 0] + be16(0)
        return Query(id: id, question: question, bytes: bytes)
    }

    /// The reply to `query`, or nil when it answers something else (another id or question).
    static func parse(_ bytes: [UInt8], for query: Query) throws -> Reply? {
        guard bytes.count >= 12 else { return nil }
        guard u16(bytes, 0) == query.id, bytes[2] & 0x80 != 0 else { return nil }  // id and QR
        let truncated = bytes[2] & 0x02 != 0
        let rcode = Int(bytes[3] & 0x0F)
        let questions = Int(u16(bytes, 4)), answers = Int(u16(bytes, 6))
        var offset = 12
        if questions != 1 { return truncated || rcode != 0 ? Reply(rcode: rcode, truncated: truncated, txt: []) : nil }
        let start = offset
        try skipName(bytes, &offset)
        offset += 4
        guard offset <= bytes.count else { throw DNSError(.malformedReply, "question cut short") }
        // Compare case-insensitively: resolvers may echo the name in another case (0x20 randomisation).
        guard bytes[start..<offset].count == query.question.count,
              zip(bytes[start..<offset], query.question).allSatisfy({ lower($0) == lower($1) }) else { return nil }
        if truncated { return Reply(rcode: rcode, truncated: true, txt: []) }
        var records: [[String]] = []
        for _ in 0..<answers {
            try skipName(bytes, &offset)
            guard offset + 10 <= bytes.count else { throw DNSError(.malformedReply, "answer cut short") }
            let type = u16(bytes, offset), length = Int(u16(bytes, offset + 8))
            offset += 10
            guard offset + length <= bytes.count else { throw DNSError(.malformedReply, "record data cut short") }
            if type == typeTXT {
                var strings: [String] = []
                var at = offset
                while at < offset + length {
                    let count = Int(bytes[at])
                    guard at + 1 + count <= offset + length else { throw DNSError(.malformedReply, "TXT string cut short") }
                    strings.append(String(decoding: bytes[(at + 1)..<(at + 1 + count)], as: UTF8.self))
                    at += 1 + count
                }
                records.append(strings)
            }
            offset += length  // CNAMEs and anything else in the chain are skipped
        }
        return Reply(rcode: rcode, truncated: false, txt: records)
    }

    private static func skipName(_ bytes: [UInt8], _ offset: inout Int) throws {
        while true {
            guard offset < bytes.count else { throw DNSError(.malformedReply, "name cut short") }
            let length = bytes[offset]
            if length == 0 { offset += 1; return }
            if length & 0xC0 == 0xC0 { offset += 2; return }  // a compression pointer ends the name
            offset += 1 + Int(length)
        }
    }

    private static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }
    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    static func u16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
}

#if canImport(Glibc)
private let systemSend = Glibc.send
#else
private let systemSend = Darwin.send
#endif

/// A UDP or TCP socket connected to the DNS server, with deadline-bounded reads.
private struct DNSSocket {
    let descriptor: Int32

    init(_ server: DNSClient.Server, datagram: Bool, deadline: ContinuousClock.Instant? = nil) throws {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        #if canImport(Glibc)
        hints.ai_socktype = Int32(datagram ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = datagram ? SOCK_DGRAM : SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(server.host, String(server.port), &hints, &list) == 0, let info = list else {
            throw DNSError(.badServer, "\(server) is not a numeric address and port")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw DNSError(.network, "socket: errno \(errno)") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        if !datagram { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        descriptor = fd
        if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
            guard !datagram, errno == EINPROGRESS, let deadline else {
                let error = errno
                close()
                throw DNSError(.network, "cannot reach \(server): errno \(error)")
            }
            do { try wait(for: Int16(POLLOUT), deadline: deadline) } catch { close(); throw error }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else {
                close()
                throw DNSError(.network, "cannot reach \(server) over TCP: errno \(error)")
            }
        }
    }

    func close() {
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
            let flags = Int32(MSG_NOSIGNAL)
            #else
            let flags: Int32 = 0
            #endif
            let sent = bytes.withUnsafeBytes { systemSend(descriptor, $0.baseAddress! + offset, $0.count - offset, flags) }
            if sent < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard sent > 0 else { throw DNSError(.network, "send: errno \(errno)") }
            offset += sent
        }
    }

    private func wait(for events: Int16, deadline: ContinuousClock.Instant) throws {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            let milliseconds = left <= .zero ? 0 : Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
            guard milliseconds > 0 else { throw DNSError(.timeout, "no answer in time") }
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw DNSError(.network, "poll: errno \(errno)") }
        }
    }

    /// One datagram.
    func receive(deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while true {
            try wait(for: Int16(POLLIN), deadline: deadline)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count >= 0 { return Array(buffer[0..<count]) }
            if errno == EINTR || errno == EAGAIN { continue }
            // ECONNREFUSED: an ICMP port unreachable came back (nothing listens there).
            throw DNSError(.network, "no DNS server answers (errno \(errno))")
        }
    }

    /// Exactly `count` bytes of the stream.
    func read(count: Int, deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < count {
            try wait(for: Int16(POLLIN), deadline: deadline)
            let got = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, min($0.count, count - bytes.count), 0) }
            if got > 0 { bytes += chunk[0..<got]; continue }
            if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            throw DNSError(.malformedReply, "the TCP connection closed mid-reply")
        }
        return bytes
    }
}
