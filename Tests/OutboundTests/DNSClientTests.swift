import Fakes
import Foundation
import Outbound
import Testing

@Suite("DNS TXT lookups against a loopback DNS server")
struct DNSClientTests {
    func client(_ server: LoopbackDNSServer, timeout: Duration = .seconds(3)) throws -> DNSClient {
        DNSClient(server: try DNSClient.Server(parsing: server.address), timeout: timeout)
    }

    @Test("a TXT record is found; a long one arrives as several strings and joins back; names are case-insensitive")
    func found() async throws {
        let server = try LoopbackDNSServer()
        defer { server.stop() }
        let key = "v=DKIM1; k=rsa; p=" + String(repeating: "MIIBIjANBgkqhkiG9w0B", count: 20)
        server.setTXT("followup1._domainkey.acme.example", [key])
        server.setTXT("acme.example", ["v=spf1 include:_spf.followup.example ~all", "google-site-verification=abc"])
        let dns = try client(server)
        let answer = try await dns.txt("Followup1._DomainKey.Acme.Example.")
        guard case .records(let records) = answer else { Issue.record("no records: \(answer)"); return }
        #expect(records.count == 1 && records[0].count == 2)  // 418 bytes: two character-strings
        #expect(answer.joined == [key])
        #expect(try await dns.txt("acme.example").joined.count == 2)
        #expect(server.queryCounts.tcp == 0)
    }

    @Test("a name without records is NXDOMAIN")
    func missing() async throws {
        let server = try LoopbackDNSServer()
        defer { server.stop() }
        #expect(try await client(server).txt("nothing.acme.example") == .noSuchName)
    }

    @Test("a truncated UDP reply is asked again over TCP")
    func tcpFallback() async throws {
        let server = try LoopbackDNSServer()
        defer { server.stop() }
        server.setTXT("acme.example", ["v=spf1 -all"])
        server.setTruncateUDP(true)
        #expect(try await client(server).txt("acme.example").joined == ["v=spf1 -all"])
        #expect(server.queryCounts.udp == 1)
        #expect(server.queryCounts.tcp == 1)
    }

    @Test("a reply with another id is ignored: the real answer wins")
    func forgedReplyIgnored() async throws {
        let server = try LoopbackDNSServer()
        defer { server.stop() }
        server.setTXT("s._domainkey.acme.example", ["v=DKIM1; p=real"])
        server.setForgeFirst(true)
        #expect(try await client(server).txt("s._domainkey.acme.example").joined == ["v=DKIM1; p=real"])
    }

    @Test("no answer ends in a timeout error, on time")
    func timeout() async throws {
        let server = try LoopbackDNSServer()
        defer { server.stop() }
        server.setSilent(true)
        let started = ContinuousClock.now
        let error = await #expect(throws: DNSError.self) { try await client(server, timeout: .milliseconds(300)).txt("acme.example") }
        #expect(error?.code == .timeout)
        #expect(ContinuousClock.now - started < .seconds(4))  // 300 ms, plus a loaded machine's slack (the 5 s default would fail)
    }

    @Test("server addresses: host:port, [v6]:port, bare host, resolv.conf; bad ones are clear errors")
    func servers() throws {
        #expect(try DNSClient.Server(parsing: "127.0.0.1:5353") == DNSClient.Server(host: "127.0.0.1", port: 5353))
        #expect(try DNSClient.Server(parsing: "[::1]:53") == DNSClient.Server(host: "::1", port: 53))
        #expect(try DNSClient.Server(parsing: "10.0.0.2") == DNSClient.Server(host: "10.0.0.2", port: 53))
        #expect(throws: DNSError.self) { try DNSClient.Server(parsing: "127.0.0.1:http") }
        #expect(throws: DNSError.self) { try DNSClient.Server(parsing: "127.0.0.1:70000") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("resolv-\(UUID().uuidString).conf").path
        try "# generated\nsearch example.internal\nnameserver 10.1.2.3\nnameserver 10.1.2.4\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try DNSClient.Server.system(resolvConf: path) == DNSClient.Server(host: "10.1.2.3", port: 53))
        #expect(throws: DNSError.self) { try DNSClient.Server.system(resolvConf: path + ".missing") }
    }
}
