import Foundation

/// Builds the follow-up text message from a channel's template.
public enum FollowUpText {
    /// Renders `template` and plans it with `XMSPlanner`, shortening the
    /// unseen messages, and only them, so that the company name and the link
    /// always arrive whole.
    ///
    /// - `messages` are the unseen messages, oldest first. Each is trimmed,
    ///   empty ones are dropped, and the rest are joined with "\n". All text is
    ///   normalised to NFC.
    /// - **Korea** (`"KR"`): the whole text goes as SMS when it fits in
    ///   `koreaSMSBytes`, else as LMS; when it exceeds `koreaLMSBytes` the
    ///   messages are cut and end with "…". The subject is `template.subject`
    ///   (default `"[{company}]"`), cut to `koreaLMSSubjectBytes`.
    /// - **Elsewhere**: when the text needs more than `maxSMSSegments` parts
    ///   the messages are cut and end with "..." if the resulting text is
    ///   GSM-7, "…" if it is UCS-2 anyway.
    /// - Cuts fall between grapheme clusters: an emoji with its modifiers or a
    ///   Hangul syllable is kept or dropped whole.
    ///
    /// The template is expected to be valid (see `TextTemplate.validate()`);
    /// unknown placeholders are sent verbatim. Only when the company name and
    /// link alone exceed the limit does the planner cut the whole text.
    public static func compose(template: TextTemplate, company: String, customerName: String?,
                               messages: [String], link: String, country: String,
                               limits: XMSLimits = .init()) -> XMSPlan {
        let company = Shortening.nfc(company)
        let link = Shortening.nfc(link)
        let customer = Shortening.nfc(customerName ?? "")
        let joined = messages
            .map { Shortening.nfc($0).trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
            .joined(separator: "\n")

        let pieces = TemplatePiece.parse(template.template)
        func render(_ messagesText: String) -> String {
            TemplatePiece.render(pieces, [.company: company, .messages: messagesText,
                                          .link: link, .customer: customer])
        }
        let subject = TemplatePiece.render(TemplatePiece.parse(template.subject),
                                           [.company: company, .messages: joined,
                                            .link: link, .customer: customer])

        let korea = XMSPlanner.isKorea(country)
        let maxSegments = max(1, limits.maxSMSSegments)
        func fits(_ text: String) -> Bool {
            korea ? EUCKR.byteCount(text) <= limits.koreaLMSBytes
                  : SMSEncoding.segmentation(of: text).segments <= maxSegments
        }

        var body = render(joined)
        if !fits(body) {
            let characters = Array(joined)
            func candidate(_ count: Int) -> String {
                let head = Shortening.head(characters, count)
                if korea { return render(head + Shortening.koreanEllipsis) }
                let gsm = render(head + "...")
                return GSM7Alphabet.canEncode(gsm) ? gsm : render(head + "…")
            }
            if fits(candidate(0)) {
                // Every character costs at least one byte or unit.
                let budget = korea ? limits.koreaLMSBytes : maxSegments * SMSEncoding.gsm7PartCapacity
                let kept = Shortening.longestFitting(upTo: min(characters.count, budget)) { fits(candidate($0)) }
                body = candidate(kept)
            } else {
                body = render("")
            }
        }
        return XMSPlanner.plan(body: body, subject: subject, country: country, limits: limits)
    }
}
