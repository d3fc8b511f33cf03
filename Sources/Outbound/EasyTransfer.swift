import CCurl
import Foundation

/// What a transfer produced: a response for HTTP, nothing of note for SMTP.
struct TransferOutcome: Sendable {
    var status: Int
    var headers: [HTTPHeader]
    var body: [UInt8]
}

/// One request or submission: the work to do, the continuation of the task
/// waiting for it, and the libcurl easy handle that carries it out.
///
/// `@unchecked Sendable` holds because the state is split in two:
/// - `phase` (the continuation and whether the transfer was submitted,
///   cancelled or finished) is only touched through its lock;
/// - everything else that is mutable (the easy handle, lists, buffers) is
///   created, used and freed only on the client's curl thread, from
///   ``CurlMultiLoop``'s loop and the C callbacks libcurl calls on it.
final class EasyTransfer: @unchecked Sendable {
    enum Work: Sendable {
        case http(HTTPRequest)
        case mail(MailSubmission, SMTPServer)
    }

    private enum Phase {
        case idle
        case cancelledBeforeStart
        case running(CheckedContinuation<TransferOutcome, any Error>)
        case finished
    }

    let work: Work
    private let phase = Locked(Phase.idle)

    // Curl-thread only.
    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var recipientList: UnsafeMutablePointer<curl_slist>?
    private var errorBuffer: UnsafeMutablePointer<CChar>?
    private var upload: [UInt8] = []
    private var uploadOffset = 0
    private var responseHeaders: [HTTPHeader] = []
    private var responseBody: [UInt8] = []

    init(_ work: Work) {
        self.work = work
    }

    deinit {
        // Normally already released by the curl thread; this only runs for
        // transfers that never got an easy handle.
        precondition(easy == nil, "an easy handle outlived its transfer")
    }

    // MARK: Task side (any thread)

    /// Hands the transfer to `loop`, or fails at once if it was cancelled or the loop is stopped.
    func start(_ continuation: CheckedContinuation<TransferOutcome, any Error>, on loop: CurlMultiLoop) {
        let failure: OutboundError? = phase.withLock { phase in
            guard case .idle = phase else {
                phase = .finished
                return OutboundError.cancelledByTask()
            }
            phase = .running(continuation)
            if loop.enqueue(self) { return nil }
            phase = .finished
            return OutboundError.clientShutDown()
        }
        if let failure { continuation.resume(throwing: failure) }
    }

    /// Called from the task's cancellation handler.
    func cancel(on loop: CurlMultiLoop) {
        phase.withLock { phase in
            switch phase {
            case .idle: phase = .cancelledBeforeStart
            case .running: loop.requestCancel(self)
            case .cancelledBeforeStart, .finished: break
            }
        }
    }

    /// Resumes the waiting task exactly once; later calls do nothing.
    func finish(_ result: Result<TransferOutcome, OutboundError>) {
        let continuation: CheckedContinuation<TransferOutcome, any Error>? = phase.withLock { phase in
            guard case .running(let continuation) = phase else { return nil }
            phase = .finished
            return continuation
        }
        continuation?.resume(with: result.mapError { $0 as any Error })
    }

    // MARK: Curl thread

    /// Creates and configures the easy handle. On failure nothing is left allocated.
    func makeEasyHandle() throws(OutboundError) -> UnsafeMutableRawPointer {
        guard let handle = curl_easy_init() else {
            throw OutboundError(code: .other, message: "curl_easy_init failed")
        }
        easy = handle
        do {
            errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
            errorBuffer?.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
            try setPointer(CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer))
            try setLong(CURLOPT_NOSIGNAL, 1)
            try setLong(CURLOPT_TCP_KEEPALIVE, 1)
            switch work {
            case .http(let request): try configureHTTP(request)
            case .mail(let mail, let server): try configureMail(mail, server)
            }
        } catch {
            releaseEasyHandle()
            throw error
        }
        return handle
    }

    /// Reads the outcome from the finished easy handle, then frees it.
    func complete(with result: CURLcode) -> Result<TransferOutcome, OutboundError> {
        defer { releaseEasyHandle() }
        var responseCode = 0
        curl_shim_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &responseCode)
        if result == CURLE_OK {
            return .success(TransferOutcome(status: responseCode, headers: responseHeaders, body: responseBody))
        }
        var message = errorBuffer.map { String(cString: $0) } ?? ""
        if message.isEmpty { message = String(cString: curl_easy_strerror(result)) }
        var code = OutboundError.code(for: result)
        if case .mail = work, responseCode >= 400 || result == CURLE_LOGIN_DENIED {
            code = .smtpRejected
        }
        return .failure(OutboundError(
            code: code, curlCode: Int32(bitPattern: result.rawValue),
            responseCode: responseCode > 0 ? responseCode : nil, message: message))
    }

    /// Frees the easy handle and everything it pointed at. The handle must
    /// already be out of the multi handle.
    func releaseEasyHandle() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        curl_slist_free_all(headerList)
        headerList = nil
        curl_slist_free_all(recipientList)
        recipientList = nil
        errorBuffer?.deallocate()
        errorBuffer = nil
    }

    private func configureHTTP(_ request: HTTPRequest) throws(OutboundError) {
        let lowered = request.url.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else {
            throw .invalid("the URL must be http:// or https://")
        }
        guard !request.method.isEmpty, request.method.utf8.allSatisfy(isTokenByte) else {
            throw .invalid("the method is not an HTTP token")
        }
        try setString(CURLOPT_URL, request.url)
        try setString(CURLOPT_PROTOCOLS_STR, "http,https")
        try setString(CURLOPT_USERAGENT, "followup-outbound")
        try setCommon(timeout: request.timeout, verifyTLS: request.verifyTLS)
        let version = request.preferHTTP2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1
        try setLong(CURLOPT_HTTP_VERSION, Int(version))

        var lines: [String] = []
        for header in request.headers {
            guard !header.name.isEmpty, header.name.utf8.allSatisfy(isTokenByte) else {
                throw .invalid("a header name is not an HTTP token")
            }
            guard !header.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
                throw .invalid("the value of header \(header.name) contains a line break")
            }
            // "Name;" is libcurl's way to send a header with an empty value.
            lines.append(header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)")
        }
        if !request.headers.contains(where: { $0.name.lowercased() == "expect" }) {
            lines.append("Expect:")  // no 100-continue round trip for large bodies
        }
        headerList = makeList(lines)
        try setSlist(CURLOPT_HTTPHEADER, headerList)

        let method = request.method.uppercased()
        let sendsBody = !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(method)
        if method == "HEAD" {
            try setLong(CURLOPT_NOBODY, 1)
        } else if sendsBody {
            try check(curl_shim_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            try request.body.withUnsafeBufferPointer { bytes throws(OutboundError) in
                // COPYPOSTFIELDS copies `count` bytes (set just above), so the buffer may go away.
                let empty: StaticString = ""
                let pointer = bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                    ?? UnsafeMutableRawPointer(mutating: empty.utf8Start)
                try setPointer(CURLOPT_COPYPOSTFIELDS, pointer)
            }
            if method != "POST" { try setString(CURLOPT_CUSTOMREQUEST, request.method) }
        } else if method == "GET" {
            try setLong(CURLOPT_HTTPGET, 1)
        } else {
            try setString(CURLOPT_CUSTOMREQUEST, request.method)
        }

        let me = Unmanaged.passUnretained(self).toOpaque()
        try check(curl_shim_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, easyTransferWrite))
        try setPointer(CURLOPT_WRITEDATA, me)
        try check(curl_shim_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, easyTransferHeader))
        try setPointer(CURLOPT_HEADERDATA, me)
    }

    private func configureMail(_ mail: MailSubmission, _ server: SMTPServer) throws(OutboundError) {
        let lowered = server.url.lowercased()
        guard lowered.hasPrefix("smtp://") || lowered.hasPrefix("smtps://") else {
            throw .invalid("the SMTP server URL must be smtp:// or smtps://")
        }
        guard !mail.recipients.isEmpty else { throw .invalid("a mail needs at least one recipient") }
        let addresses = [mail.envelopeFrom] + mail.recipients
        guard addresses.allSatisfy({ !$0.utf8.contains { $0 < 0x20 || $0 == 0x7F } }) else {
            throw .invalid("an envelope address contains a control character")
        }
        try setString(CURLOPT_URL, server.url)
        try setString(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        try setCommon(timeout: server.timeout, verifyTLS: server.verifyTLS)
        let useSSL: curl_usessl
        switch server.startTLS {
        case .never: useSSL = CURLUSESSL_NONE
        case .required: useSSL = CURLUSESSL_ALL
        case .ifAvailable: useSSL = CURLUSESSL_TRY
        }
        try setLong(CURLOPT_USE_SSL, Int(useSSL.rawValue))
        if let username = server.username, let password = server.password {
            try setString(CURLOPT_USERNAME, username)
            try setString(CURLOPT_PASSWORD, password)
        }
        try setString(CURLOPT_MAIL_FROM, mail.envelopeFrom)
        recipientList = makeList(mail.recipients)
        try setSlist(CURLOPT_MAIL_RCPT, recipientList)

        upload = mail.message
        uploadOffset = 0
        try setLong(CURLOPT_UPLOAD, 1)
        try check(curl_shim_easy_setopt_off_t(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(upload.count)))
        try check(curl_shim_easy_setopt_data_callback(easy, CURLOPT_READFUNCTION, easyTransferRead))
        try setPointer(CURLOPT_READDATA, Unmanaged.passUnretained(self).toOpaque())
    }

    private func setCommon(timeout: Duration, verifyTLS: Bool) throws(OutboundError) {
        let (seconds, attoseconds) = timeout.components
        let milliseconds = max(1, seconds.multipliedReportingOverflow(by: 1000).partialValue + attoseconds / 1_000_000_000_000_000)
        try setLong(CURLOPT_TIMEOUT_MS, Int(milliseconds))
        try setLong(CURLOPT_CONNECTTIMEOUT_MS, Int(milliseconds))
        try setLong(CURLOPT_SSL_VERIFYPEER, verifyTLS ? 1 : 0)
        try setLong(CURLOPT_SSL_VERIFYHOST, verifyTLS ? 2 : 0)
    }

    // MARK: Callbacks (curl thread)

    fileprivate func appendBody(_ bytes: UnsafeRawBufferPointer) {
        responseBody.append(contentsOf: bytes)
    }

    fileprivate func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        var end = bytes.count
        while end > 0 && (bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D) { end -= 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            responseHeaders = []  // a new response (after 1xx or a redirect): keep only the last
        } else if let first = line.first, first == " " || first == "\t", !responseHeaders.isEmpty {
            let continuation = line.trimmingCharacters(in: .whitespaces)
            responseHeaders[responseHeaders.count - 1].value += " " + continuation
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            responseHeaders.append(HTTPHeader(name: name, value: value))
        }
    }

    fileprivate func fillUpload(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(buffer.count, upload.count - uploadOffset)
        guard count > 0 else { return 0 }
        upload.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[uploadOffset..<uploadOffset + count]))
        }
        uploadOffset += count
        return count
    }

    // MARK: Option helpers

    private func check(_ code: CURLcode) throws(OutboundError) {
        guard code == CURLE_OK else {
            throw OutboundError(
                code: OutboundError.code(for: code) == .other ? .invalidRequest : OutboundError.code(for: code),
                curlCode: Int32(bitPattern: code.rawValue),
                message: "curl_easy_setopt failed: " + String(cString: curl_easy_strerror(code)))
        }
    }

    private func setLong(_ option: CURLoption, _ value: Int) throws(OutboundError) {
        try check(curl_shim_easy_setopt_long(easy, option, value))
    }

    private func setString(_ option: CURLoption, _ value: String) throws(OutboundError) {
        // libcurl copies string options (all but POSTFIELDS), so a temporary C string is fine.
        let code = value.withCString { curl_shim_easy_setopt_string(easy, option, $0) }
        try check(code)
    }

    private func setPointer(_ option: CURLoption, _ value: UnsafeMutableRawPointer?) throws(OutboundError) {
        try check(curl_shim_easy_setopt_pointer(easy, option, value))
    }

    private func setSlist(_ option: CURLoption, _ value: UnsafeMutablePointer<curl_slist>?) throws(OutboundError) {
        try check(curl_shim_easy_setopt_slist(easy, option, value))
    }

    private func makeList(_ items: [String]) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>?
        for item in items {
            list = item.withCString { curl_slist_append(list, $0) }
        }
        return list
    }
}

/// RFC 9110 `tchar`: the bytes allowed in methods and header names.
private func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    default:
        return "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}

// The C callbacks: no captures; `userdata` is the unretained EasyTransfer,
// which the multi loop keeps alive while its easy handle exists.

private func easyTransferWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    guard let userdata else { return 0 }
    let transfer = Unmanaged<EasyTransfer>.fromOpaque(userdata).takeUnretainedValue()
    transfer.appendBody(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

private func easyTransferHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    guard let userdata else { return 0 }
    let transfer = Unmanaged<EasyTransfer>.fromOpaque(userdata).takeUnretainedValue()
    transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

private func easyTransferRead(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    guard let userdata, let buffer else { return 0 }
    let transfer = Unmanaged<EasyTransfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.fillUpload(UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
}
