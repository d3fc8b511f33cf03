#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Outbound

/// An authoritative-looking DNS server on 127.0.0.1 (UDP and TCP on the same port) that answers
/// TXT questions from a table the test fills — for domain verification tests and `followup demo`
/// (`FOLLOWUP_DNS_SERVER=127.0.0.1:PORT`).
///
/// Names without records get NXDOMAIN; other question types get an empty answer. With
/// `truncateUDP` every UDP reply is empty with the TC bit set, so the client must ask over TCP.
/// Written independently of the product's client (`DNSClient`): its own parsing and encoding.
public final class LoopbackDNSServer: Sendable {
    private let tcp: LoopbackListener
    private let udp: Int32
    private let records: Locked<[String: [[String]]]>
    private let state: Locked<State>

    private struct State {
        var stopped = false
        var truncateUDP = false
        var silent = false
        var forgeFirst = false
        var udpQueries = 0
        var tcpQueries = 0
    }

    public init() throws {
        // TCP first (the kernel picks a free port), then UDP on the same number (its own port space).
        let (records, state) = (Locked<[String: [[String]]]>([:]), Locked(State()))
        self.records = records
        self.state = state
        tcp = try LoopbackListener(name: "dns.tcp") { connection in
            while let prefix = connection.read(count: 2),
                  let query = connection.read(count: Int(prefix[0]) << 8 | Int(prefix[1])) {
                state.withLock { $0.tcpQueries += 1 }
                guard let reply = Self.answer(query, records: records, truncate: false) else { break }
                connection.write([UInt8(reply.count >> 8), UInt8(reply.count & 0xFF)] + reply)
            }
        }
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { throw FakeServerError(message: "udp socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(tcp.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let error = errno
            _ = close(fd)
            tcp.stop()
            throw FakeServerError(message: "bind udp 127.0.0.1:\(tcp.port): errno \(error)")
        }
        udp = fd
        startThread(named: "fakes.dns.udp") {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !state.withLock({ $0.stopped }) {
                var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, 50) > 0 else { continue }
                var peer = sockaddr_storage()
                var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let count = withUnsafeMutablePointer(to: &peer) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { peerPointer in
                        buffer.withUnsafeMutableBytes { recvfrom(fd, $0.baseAddress, $0.count, 0, peerPointer, &peerLength) }
                    }
                }
                guard count > 0 else { continue }
                let (truncate, silent, forge) = state.withLock { s -> (Bool, Bool, Bool) in
                    s.udpQueries += 1
                    return (s.truncateUDP, s.silent, s.forgeFirst)
                }
                guard !silent, let reply = Self.answer(Array(buffer[0..<count]), records: records, truncate: truncate) else { continue }
                var replies = [reply]
                if forge {
                    // What an off-path attacker would send: the wrong id, a record of its choosing.
                    let forged = Locked<[String: [[String]]]>([:])
                    let query = Array(buffer[0..<count])
                    if var fake = Self.answer(query, records: forged, truncate: false, forgedTXT: "v=DKIM1; p=forged") {
                        fake[1] ^= 0x5A
                        replies.insert(fake, at: 0)
                    }
                }
                for datagram in replies {
                    _ = withUnsafePointer(to: &peer) { pointer in
                        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { peerPointer in
                            datagram.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, peerPointer, peerLength) }
                        }
                    }
                }
            }
            _ = close(fd)
        }
    }

    deinit { stop() }

    public var port: Int { tcp.port }
    /// `127.0.0.1:PORT`, the value for `FOLLOWUP_DNS_SERVER`.
    public var address: String { "127.0.0.1:\(port)" }

    /// Replaces the TXT records at `name` with one record per string; a string longer than 255
    /// bytes is split into several character-strings, as zone files do for DKIM keys.
    public func setTXT(_ name: String, _ values: [String]) {
        let key = Self.key(name)
        records.withLock { table in
            table[key] = values.map { value in
                let bytes = Array(value.utf8)
                return stride(from: 0, to: max(bytes.count, 1), by: 255).map {
                    String(decoding: bytes[$0..<min($0 + 255, bytes.count)], as: UTF8.self)
                }
            }
        }
    }

    /// Deletes every record at `name` (it then answers NXDOMAIN).
    public func remove(_ name: String) {
        let key = Self.key(name)
        _ = records.withLock { $0.removeValue(forKey: key) }
    }

    /// Answer every UDP question with an empty, truncated reply (TC set): clients must use TCP.
    public func setTruncateUDP(_ on: Bool) { state.withLock { $0.truncateUDP = on } }
    /// Answer nothing over UDP (clients time out).
    public func setSilent(_ on: Bool) { state.withLock { $0.silent = on } }
    /// Before each real UDP reply, send a forged one with another id (clients must ignore it).
    public func setForgeFirst(_ on: Bool) { state.withLock { $0.forgeFirst = on } }
    /// Questions received so far over each transport.
    public var queryCounts: (udp: Int, tcp: Int) { state.withLock { ($0.udpQueries, $0.tcpQueries) } }

    public func stop() {
        let first = state.withLock { s -> Bool in
            defer { s.stopped = true }
            return !s.stopped
        }
        guard first else { return }
        tcp.stop()
    }

    private static func key(_ name: String) -> String {
        (name.hasSuffix(".") ? String(name.dropLast()) : name).lowercased()
    }

    /// The reply to one query message; nil for garbage.
    static func answer(_ query: [UInt8], records: Locked<[String: [[String]]]>, truncate: Bool,
                       forgedTXT: String? = nil) -> [UInt8]? {
        guard query.count >= 12, query[2] & 0x80 == 0 else { return nil }
        var offset = 12
        var labels: [String] = []
        while offset < query.count, query[offset] != 0 {
            let length = Int(query[offset])
            guard length < 64, offset + 1 + length < query.count else { return nil }
            labels.append(String(decoding: query[(offset + 1)...(offset + length)], as: UTF8.self))
            offset += 1 + length
        }
        offset += 1
        guard offset + 4 <= query.count else { return nil }
        let type = UInt16(query[offset]) << 8 | UInt16(query[offset + 1])
        let question = Array(query[12..<(offset + 4)])
        let found = forgedTXT.map { [[$0]] } ?? records.withLock { $0[labels.joined(separator: ".").lowercased()] }
        var flags: [UInt8] = [0x84 | (query[2] & 0x01), 0x80]  // QR, AA, RD copied; RA
        if truncate { flags[0] |= 0x02 }
        var answers: [[UInt8]] = []
        if found == nil && !truncate {
            flags[1] |= 0x03  // NXDOMAIN
        } else if let found, type == 16, !truncate {
            for record in found {
                var data: [UInt8] = []
                for string in record {
                    data.append(UInt8(string.utf8.count))
                    data += string.utf8
                }
                answers.append([0xC0, 0x0C, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C,
                                UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data)
            }
        }
        var reply = [query[0], query[1]] + flags
        reply += [0x00, 0x01, UInt8(answers.count >> 8), UInt8(answers.count & 0xFF), 0x00, 0x00, 0x00, 0x00]
        reply += question
        for answer in answers { reply += answer }
        return reply
    }
}
