import Foundation

/// The kind of text message to send.
public enum XMSRoute: String, Sendable {
    /// A short message: 90 EUC-KR bytes in Korea, up to `maxSMSSegments`
    /// concatenated GSM-7/UCS-2 parts elsewhere.
    case sms
    /// A Korean long message: up to 2,000 EUC-KR bytes, with a subject.
    case lms
}

/// What to send, and what it measures.
public struct XMSPlan: Sendable, Equatable {
    /// SMS or LMS.
    public var route: XMSRoute
    /// The text to send, already normalised (NFC) and shortened to the limits.
    public var body: String
    /// The LMS subject, cut to its byte limit; always `nil` for SMS.
    public var subject: String?
    /// SMS parts; 1 for a Korean SMS and for LMS.
    public var segments: Int
    /// EUC-KR bytes (see `EUCKR`) in Korea, UTF-8 bytes elsewhere.
    public var bytes: Int
    /// The SMS character set outside Korea; `nil` in Korea (EUC-KR).
    public var charset: SMSCharset?

    public init(route: XMSRoute, body: String, subject: String?, segments: Int, bytes: Int, charset: SMSCharset?) {
        self.route = route
        self.body = body
        self.subject = subject
        self.segments = segments
        self.bytes = bytes
        self.charset = charset
    }
}

/// Size limits for text messages.
public struct XMSLimits: Sendable, Equatable {
    /// Largest Korean SMS, in EUC-KR bytes.
    public var koreaSMSBytes: Int
    /// Largest Korean LMS body, in EUC-KR bytes.
    public var koreaLMSBytes: Int
    /// Largest Korean LMS subject, in EUC-KR bytes.
    public var koreaLMSSubjectBytes: Int
    /// Most parts of an international concatenated SMS.
    public var maxSMSSegments: Int

    public init(koreaSMSBytes: Int = 90, koreaLMSBytes: Int = 2000,
                koreaLMSSubjectBytes: Int = 40, maxSMSSegments: Int = 3) {
        self.koreaSMSBytes = koreaSMSBytes
        self.koreaLMSBytes = koreaLMSBytes
        self.koreaLMSSubjectBytes = koreaLMSSubjectBytes
        self.maxSMSSegments = maxSMSSegments
    }
}

/// Chooses SMS or LMS for a text and fits the text to that route's limits.
public enum XMSPlanner {
    /// Plans a text message to a recipient in `country`.
    ///
    /// Body and subject are first normalised to NFC. Then:
    /// - **Korea** (`"KR"`): a body of at most `koreaSMSBytes` EUC-KR bytes
    ///   goes as SMS, without subject. A longer one goes as LMS; a body over
    ///   `koreaLMSBytes` is cut and ends with "…", and the subject is cut to
    ///   `koreaLMSSubjectBytes` (no ellipsis). Cuts fall between grapheme
    ///   clusters, never inside a character.
    /// - **Elsewhere**: SMS, segmented as GSM-7 or UCS-2. A body needing
    ///   more than `maxSMSSegments` parts is cut on a grapheme boundary and
    ///   ends with "..." when the kept text is GSM-7, "…" otherwise. The
    ///   subject is dropped (SMS has none).
    ///
    /// - Parameter country: ISO 3166-1 alpha-2 code, any case ("KR", "us").
    public static func plan(body: String, subject: String?, country: String,
                            limits: XMSLimits = .init()) -> XMSPlan {
        let body = Shortening.nfc(body)
        if isKorea(country) {
            return planKorea(body: body, subject: subject.map(Shortening.nfc), limits: limits)
        }
        return planInternational(body: body, limits: limits)
    }

    /// Whether `country` is the Republic of Korea.
    static func isKorea(_ country: String) -> Bool {
        country.trimmingCharacters(in: .whitespaces).uppercased() == "KR"
    }

    private static func planKorea(body: String, subject: String?, limits: XMSLimits) -> XMSPlan {
        let bytes = EUCKR.byteCount(body)
        if bytes <= limits.koreaSMSBytes {
            return XMSPlan(route: .sms, body: body, subject: nil, segments: 1, bytes: bytes, charset: nil)
        }
        var lmsBody = body
        if bytes > limits.koreaLMSBytes {
            let ellipsis = Shortening.koreanEllipsis
            let room = max(0, limits.koreaLMSBytes - EUCKR.byteCount(ellipsis))
            let head = Shortening.head(Array(EUCKR.prefix(body, maxBytes: room)), .max)
            lmsBody = head + ellipsis
        }
        let lmsSubject = subject.map { EUCKR.prefix($0, maxBytes: max(0, limits.koreaLMSSubjectBytes)) }
        return XMSPlan(route: .lms, body: lmsBody, subject: lmsSubject, segments: 1,
                       bytes: EUCKR.byteCount(lmsBody), charset: nil)
    }

    private static func planInternational(body: String, limits: XMSLimits) -> XMSPlan {
        let maxSegments = max(1, limits.maxSMSSegments)
        var text = body
        var segmentation = SMSEncoding.segmentation(of: body)
        if segmentation.segments > maxSegments {
            let characters = Array(body)
            func candidate(_ count: Int) -> String {
                let head = Shortening.head(characters, count)
                return head + Shortening.smsEllipsis(forText: head)
            }
            // No part holds more than 153 characters, which bounds the search.
            let upper = min(characters.count, maxSegments * SMSEncoding.gsm7PartCapacity)
            let kept = Shortening.longestFitting(upTo: upper) {
                SMSEncoding.segmentation(of: candidate($0)).segments <= maxSegments
            }
            text = candidate(kept)
            segmentation = SMSEncoding.segmentation(of: text)
        }
        return XMSPlan(route: .sms, body: text, subject: nil, segments: segmentation.segments,
                       bytes: text.utf8.count, charset: segmentation.charset)
    }
}
