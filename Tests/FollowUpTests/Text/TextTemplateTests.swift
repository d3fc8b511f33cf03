import Testing
@testable import FollowUp

@Suite("Text templates")
struct TextTemplateTests {
    @Test func defaultTemplateIsValid() throws {
        let template = TextTemplate()
        #expect(template.template == "[{company}] {messages}\n{link}")
        #expect(template.subject == "[{company}]")
        try template.validate()
    }

    @Test func unknownPlaceholderIsRejected() {
        #expect(throws: TextTemplateError.unknownPlaceholder("name", in: .template)) {
            try TextTemplate(template: "Hi {name}: {messages} {link}").validate()
        }
        #expect(throws: TextTemplateError.unknownPlaceholder("chat", in: .subject)) {
            try TextTemplate(template: "{link}", subject: "{chat}").validate()
        }
    }

    @Test func missingLinkIsRejected() {
        #expect(throws: TextTemplateError.missingLink) {
            try TextTemplate(template: "[{company}] {messages}").validate()
        }
        #expect(throws: TextTemplateError.missingLink) {
            try TextTemplate(template: "").validate()
        }
    }

    @Test func errorsExplainThemselves() {
        let unknown = TextTemplateError.unknownPlaceholder("name", in: .template)
        #expect(unknown.description.contains("{name}"))
        #expect(unknown.description.contains("{link}"))
        #expect(TextTemplateError.missingLink.description.contains("{link}"))
    }

    @Test func bracesThatAreNotPlaceholdersAreText() throws {
        try TextTemplate(template: "{} { link } {{link}} }").validate()
        let pieces = TemplatePiece.parse("a{}b{{link}}c")
        #expect(pieces == [.literal("a{}b{"), .placeholder(.link), .literal("}c")])
    }

    @Test func valuesAreSubstitutedOnce() {
        let pieces = TemplatePiece.parse("{messages} {link}")
        let text = TemplatePiece.render(pieces, [.messages: "see {link}", .link: "https://x.io/c"])
        #expect(text == "see {link} https://x.io/c")
    }
}
