import Foundation

/// The demo's cast: who each customer is, how they leave, and what the managers answer (the
/// seed's scenarios). `DemoStory` plays them; `report()` (DemoReport.swift) tells what each one received.
extension DemoStory {
    struct Scenario: Sendable {
        var title: String
        var customer: String
        var channel: String
        var phone: String?
        var email: String?
        var country: String
        var language: String
        var device: (platform: String, token: String)?
        var openedBy = "customer"
        var kind = "support"
        var customerSays: String?
        /// How the customer goes away: left, tab_hidden, or silence (heartbeat, then nothing).
        var away: String
        var answers: [String]
        /// Shown when no notification is expected.
        var rule: String?
        var acknowledgesPush = false
        var messengerBlocked = false
    }

    static let acme = "Acme Shop"
    static let bloom = "Bloom Flowers"

    var scenarios: [Scenario] {
        [
            Scenario(title: "Push acknowledged", customer: "Minji", channel: Self.acme, phone: "+821055510001",
                     email: "minji@example.com", country: "KR", language: "en",
                     device: ("android", "fcm-demo-minji-" + String(repeating: "Zq9x", count: 30)),
                     customerSays: "Has my refund gone through?", away: "left",
                     answers: ["Yes — it was approved this morning."], acknowledgesPush: true),
            Scenario(title: "Push unanswered", customer: "Jisoo", channel: Self.acme, phone: "+821055510002",
                     email: "jisoo@example.com", country: "KR", language: "en",
                     device: ("ios", String(repeating: "a1b2c3d4", count: 8)),
                     customerSays: "Can I change my delivery address?", away: "tab_hidden",
                     answers: ["Sure, I updated it to the new address you gave us."]),
            Scenario(title: "No app: text and email at once", customer: "Alex", channel: Self.acme, phone: "+14155550123",
                     email: "alex@example.com", country: "US", language: "en",
                     customerSays: "Do you ship to Canada?", away: "silence",
                     answers: ["We do!", "Shipping to Canada takes 5-7 days."]),
            Scenario(title: "Messenger blocked: SMS instead", customer: "Hyun", channel: Self.bloom, phone: "+821055510004",
                     email: "hyun@example.com", country: "KR", language: "ko",
                     customerSays: "내일 배송 가능한가요?", away: "left",
                     answers: ["네, 내일 오전에 도착합니다."], messengerBlocked: true),
            Scenario(title: "Messenger delivered", customer: "Yuna", channel: Self.bloom, phone: "+821055510005",
                     email: nil, country: "KR", language: "ko",
                     customerSays: "장미 꽃다발 있나요?", away: "left",
                     answers: ["네, 오늘 들어온 장미가 있습니다."]),
            Scenario(title: "Long Korean answer: LMS", customer: "Seo-yeon", channel: Self.acme, phone: "+821055510006",
                     email: "seoyeon@example.com", country: "KR", language: "ko",
                     customerSays: "반품 절차를 알려주세요.", away: "left",
                     answers: ["반품은 주문 후 14일 이내에 가능합니다. 마이페이지에서 반품 신청을 누르신 후 사유를 선택해 주세요. "
                               + "택배 기사님이 2영업일 안에 방문하여 상품을 회수하며, 회수가 확인되면 3영업일 이내에 환불이 완료됩니다. "
                               + "포장은 받으신 상자 그대로 사용하셔도 됩니다."]),
            Scenario(title: "Manager-opened chat, no reply", customer: "Daniel", channel: Self.acme, phone: "+821055510007",
                     email: "daniel@example.com", country: "KR", language: "en", openedBy: "manager",
                     away: "left", answers: ["Hi Daniel, anything we can help you with?"],
                     rule: "a manager started this chat and the customer never replied"),
            Scenario(title: "Marketing message", customer: "Emma", channel: Self.acme, phone: "+821055510008",
                     email: "emma@example.com", country: "KR", language: "en", openedBy: "manager", kind: "marketing",
                     away: "left", answers: ["Spring sale: 20% off everything this weekend!"],
                     rule: "marketing messages are never followed up"),
        ]
    }
}
