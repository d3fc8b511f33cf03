import Foundation
import Outbound

/// One message a ``LoopbackSMTPServer`` accepted.
public struct ReceivedMail: Sendable {
    /// The `MAIL FROM` address, without angle brackets.
    public var envelopeFrom: String
    /// The accepted `RCPT TO` addresses, without angle brackets.
    public var recipients: [String]
    /// The DATA as sent, dot-unstuffed, each line ending in CRLF, without the final `.` line.
    public var data: [UInt8]
    /// The user name that authenticated the session, if any.
    public var authenticatedUser: String?

    public init(envelopeFrom: String, recipients: [String], data: [UInt8], authenticatedUser: String? = nil) {
        self.envelopeFrom = envelopeFrom
        self.recipients = recipients
        self.data = data
        self.authenticatedUser = authenticatedUser
    }

    /// The DATA as UTF-8 text.
    public var text: String {
        String(decoding: data, as: UTF8.self)
    }

    /// The parsed message: headers (encoded-words decoded) and text parts (transfer-decoded).
    public var parsed: ParsedMail {
        ParsedMail(data)
    }
}

/// A minimal ESMTP server on 127.0.0.1 that keeps what it receives, for tests
/// and `followup demo`: EHLO/HELO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA,
/// RSET, NOOP, QUIT. No STARTTLS. Several messages per connection are fine.
public final class LoopbackSMTPServer: Sendable {
    private struct Settings: Sendable {
        var credentials: (user: String, password: String)?
        var rejected: Set<String>
    }

    private let listener: LoopbackListener
    private let received: Locked<[ReceivedMail]>
    private let fault: Locked<SMTPFault?>

    /// A fault the SMTP fake injects.
    public enum SMTPFault: Sendable, Equatable {
        /// Every new session is answered `421 4.3.2 Service not available` and closed (a server
        /// that is down for maintenance); the mail is not taken.
        case down
        /// The mail is taken (it counts as received), then the `250` is held back this long (the
        /// client times out and never hears that it was accepted).
        case hangAfterData(Duration)
    }

    /// Starts listening on 127.0.0.1 at a free port.
    /// - Parameters:
    ///   - requireAuth: when set, AUTH PLAIN/LOGIN is advertised and required before MAIL.
    ///   - rejectRecipients: addresses (case-insensitive) answered with 550 at RCPT.
    public init(requireAuth: (user: String, password: String)? = nil, rejectRecipients: Set<String> = []) throws {
        let settings = Settings(credentials: requireAuth, rejected: Set(rejectRecipients.map { $0.lowercased() }))
        let (received, fault) = (Locked<[ReceivedMail]>([]), Locked<SMTPFault?>(nil))
        self.received = received
        self.fault = fault
        listener = try LoopbackListener(name: "smtp") { connection in
            var session = SMTPSession(connection: connection, settings: settings, received: received, fault: fault.withLock { $0 })
            session.run()
        }
    }

    deinit {
        stop()
    }

    /// The port the server listens on.
    public var port: Int { listener.port }

    /// `smtp://127.0.0.1:PORT`.
    public var url: String { "smtp://127.0.0.1:\(port)" }

    /// The fault injected into sessions starting from now on (nil: none).
    public var injectedFault: SMTPFault? {
        get { fault.withLock { $0 } }
        set { fault.withLock { $0 = newValue } }
    }

    /// Every message accepted so far, in order.
    public var messages: [ReceivedMail] { received.withLock { $0 } }

    /// Forgets the messages received so far.
    public func clearMessages() {
        received.withLock { $0 = [] }
    }

    /// Waits until at least `count` messages arrived or `timeout` passed; returns what arrived.
    public func waitForMessages(count: Int, timeout: Duration) async -> [ReceivedMail] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let messages = self.messages
            if messages.count >= count || ContinuousClock.now >= deadline { return messages }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Closes the listening socket and every connection. Idempotent.
    public func stop() {
        listener.stop()
    }

    /// One SMTP conversation.
    private struct SMTPSession {
        let connection: Connection
        let settings: Settings
        let received: Locked<[ReceivedMail]>
        var authenticatedUser: String?
        var from: String?
        var recipients: [String] = []
        let fault: SMTPFault?

        init(connection: Connection, settings: Settings, received: Locked<[ReceivedMail]>, fault: SMTPFault?) {
            self.connection = connection
            self.settings = settings
            self.received = received
            self.fault = fault
        }

        mutating func run() {
            if fault == .down {
                reply("421 4.3.2 Service not available, closing transmission channel")
                return
            }
            reply("220 127.0.0.1 fake ESMTP ready")
            while let raw = connection.readLine(limit: 65_536) {
                let line = String(decoding: raw, as: UTF8.self)
                let verb = line.split(separator: " ", maxSplits: 1).first.map { $0.uppercased() } ?? ""
                let argument = line.count > verb.count ? String(line.dropFirst(verb.count + 1)) : ""
                switch verb {
                case "EHLO":
                    resetTransaction()
                    var lines = ["250-127.0.0.1 greets you", "250-8BITMIME", "250-SIZE 35882577"]
                    if settings.credentials != nil { lines.append("250-AUTH PLAIN LOGIN") }
                    lines.append("250 HELP")
                    reply(lines.joined(separator: "\r\n"))
                case "HELO":
                    resetTransaction()
                    reply("250 127.0.0.1")
                case "AUTH":
                    authenticate(argument)
                case "MAIL":
                    mail(argument)
                case "RCPT":
                    recipient(argument)
                case "DATA":
                    guard data() else { return }
                case "RSET":
                    resetTransaction()
                    reply("250 2.0.0 OK")
                case "NOOP":
                    reply("250 2.0.0 OK")
                case "QUIT":
                    reply("221 2.0.0 Bye")
                    return
                default:
                    reply("502 5.5.2 Command not recognized")
                }
            }
        }

        private func reply(_ text: String) {
            connection.write(text + "\r\n")
        }

        private mutating func resetTransaction() {
            from = nil
            recipients = []
        }

        private mutating func authenticate(_ argument: String) {
            guard let credentials = settings.credentials else {
                reply("503 5.5.1 AUTH not available")
                return
            }
            guard authenticatedUser == nil else {
                reply("503 5.5.1 Already authenticated")
                return
            }
            let parts = argument.split(separator: " ").map(String.init)
            let mechanism = parts.first?.uppercased() ?? ""
            var user: String?
            var password: String?
            switch mechanism {
            case "PLAIN":
                var response = parts.count > 1 ? parts[1] : nil
                if response == nil {
                    reply("334 ")
                    response = connection.readLine().map { String(decoding: $0, as: UTF8.self) }
                }
                // authzid NUL authcid NUL password
                let fields = decodeBase64(response ?? "").split(separator: 0, omittingEmptySubsequences: false)
                if fields.count == 3 {
                    user = String(decoding: fields[1], as: UTF8.self)
                    password = String(decoding: fields[2], as: UTF8.self)
                }
            case "LOGIN":
                var encodedUser = parts.count > 1 ? parts[1] : nil
                if encodedUser == nil {
                    reply("334 VXNlcm5hbWU6")
                    encodedUser = connection.readLine().map { String(decoding: $0, as: UTF8.self) }
                }
                reply("334 UGFzc3dvcmQ6")
                let encodedPassword = connection.readLine().map { String(decoding: $0, as: UTF8.self) }
                user = String(decoding: decodeBase64(encodedUser ?? ""), as: UTF8.self)
                password = String(decoding: decodeBase64(encodedPassword ?? ""), as: UTF8.self)
            default:
                reply("504 5.5.4 Unrecognized authentication type")
                return
            }
            if user == credentials.user && password == credentials.password {
                authenticatedUser = user
                reply("235 2.7.0 Authentication successful")
            } else {
                reply("535 5.7.8 Authentication credentials invalid")
            }
        }

        private mutating func mail(_ argument: String) {
            guard settings.credentials == nil || authenticatedUser != nil else {
                reply("530 5.7.0 Authentication required")
                return
            }
            guard from == nil else {
                reply("503 5.5.1 Nested MAIL command")
                return
            }
            guard let address = Self.address(in: argument, after: "FROM:") else {
                reply("501 5.5.4 Syntax: MAIL FROM:<address>")
                return
            }
            from = address
            reply("250 2.1.0 OK")
        }

        private mutating func recipient(_ argument: String) {
            guard from != nil else {
                reply("503 5.5.1 Need MAIL before RCPT")
                return
            }
            guard let address = Self.address(in: argument, after: "TO:"), !address.isEmpty else {
                reply("501 5.5.4 Syntax: RCPT TO:<address>")
                return
            }
            if settings.rejected.contains(address.lowercased()) {
                reply("550 5.1.1 <\(address)>: Recipient address rejected")
                return
            }
            recipients.append(address)
            reply("250 2.1.5 OK")
        }

        /// Reads the DATA up to the lone dot; false if the connection ended.
        private mutating func data() -> Bool {
            guard let from, !recipients.isEmpty else {
                reply("503 5.5.1 Need MAIL and RCPT before DATA")
                return true
            }
            reply("354 End data with <CR><LF>.<CR><LF>")
            var data: [UInt8] = []
            while true {
                guard var line = connection.readLine(limit: 1 << 20) else { return false }
                if line == [UInt8(ascii: ".")] { break }
                if line.first == UInt8(ascii: ".") { line.removeFirst() }  // dot-unstuffing
                data.append(contentsOf: line)
                data.append(contentsOf: [0x0D, 0x0A])
            }
            let mail = ReceivedMail(envelopeFrom: from, recipients: recipients, data: data, authenticatedUser: authenticatedUser)
            let number = received.withLock { received in
                received.append(mail)
                return received.count
            }
            resetTransaction()
            if case .hangAfterData(let duration) = fault { blockThread(for: duration) }
            reply("250 2.0.0 OK queued as \(number)")
            return true
        }

        /// The address in `FROM:<a@b> SIZE=…` or `TO:<a@b>`; nil if malformed.
        private static func address(in argument: String, after keyword: String) -> String? {
            guard argument.uppercased().hasPrefix(keyword) else { return nil }
            let rest = argument.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
            if rest.hasPrefix("<") {
                guard let close = rest.firstIndex(of: ">") else { return nil }
                return String(rest[rest.index(after: rest.startIndex)..<close])
            }
            return rest.split(separator: " ").first.map(String.init) ?? ""
        }
    }
}

/// Base64 text (AUTH answers, MIME parts, B-encoded words): Outbound's decoder.
func decodeBase64(_ text: String) -> [UInt8] {
    MIMEDecoding.base64(Array(text.utf8))
}
