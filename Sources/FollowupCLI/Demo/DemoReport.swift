import FollowUp
import Foundation
import Postgres
import Wallet

/// What each customer of the demo received, and why; then the SMS wallets' statements.
extension DemoStory {
    func report() async throws {
        for (index, scenario) in scenarios.enumerated() {
            let chat = try await chatID(scenario)
            print("\(index + 1). \(scenario.title) — \(scenario.customer), a customer of \(scenario.channel)")
            print("   \(situation(scenario))")
            let followUp = try await pool.first("""
                SELECT id, status, reason, offline_reason, message_count FROM public.follow_ups WHERE chat_id = \(chat) ORDER BY id DESC LIMIT 1
                """)
            guard let followUp else {
                print("   → Nothing sent: \(scenario.rule ?? "no follow-up was needed").\n")
                continue
            }
            let offline = try followUp.decode(String.self, at: 3)
            let count = try followUp.decode(Int.self, at: 4)
            print("   Went offline (\(offline)) with \(count) unseen answer\(count == 1 ? "" : "s").")
            let rows = try await DeliveryReport.list(.init(chatID: chat, limit: 20), on: pool).reversed()
            for row in rows {
                print("   → \(describe(row, scenario))")
            }
            let status = try followUp.decode(String.self, at: 1)
            let reason = try followUp.decode(String?.self, at: 2) ?? ""
            print("   Outcome: \(outcome(status, reason))\n")
        }
        try await printWallets()
    }

    private func situation(_ scenario: Scenario) -> String {
        var parts: [String] = []
        if let device = scenario.device { parts.append("has the \(device.platform == "ios" ? "iPhone" : "Android") app") }
        else { parts.append("no mobile app") }
        switch scenario.away {
        case "left": parts.append("closed the website")
        case "tab_hidden": parts.append("switched to another browser tab")
        default: parts.append("stopped doing anything on the website")
        }
        if scenario.openedBy == "manager" && scenario.kind == "support" { parts.append("the chat was started by a manager") }
        if scenario.kind == "marketing" { parts.append("the message is a marketing campaign") }
        if scenario.messengerBlocked { parts.append("has blocked the company on the messenger") }
        if scenario.acknowledgesPush { parts.append("sees the push") }
        return parts.joined(separator: "; ").prefix(1).uppercased() + parts.joined(separator: "; ").dropFirst() + "."
    }

    private func describe(_ row: DeliveryReport.Row, _ scenario: Scenario) -> String {
        let cost = row.costMicros > 0 ? ", \(Money.format(row.costMicros)) from the SMS wallet" : ""
        let label: String
        switch row.route {
        case "push": label = "Mobile push"
        case "messenger": label = "Messenger (Kakao AlimTalk)"
        case "sms": label = "SMS (\(row.segments) part\(row.segments == 1 ? "" : "s"))"
        case "lms": label = "LMS (long text)"
        default: label = "Email"
        }
        guard [.sent, .delivered].contains(row.status) else {
            var text = "\(label): \(row.status.rawValue) — \(row.why)"
            if let replaced = row.replacedByRoute { text += "; replaced by \(replaced.uppercased())" }
            return text
        }
        return "\(label): \(row.status.rawValue)\(cost)\n     \(content(row, scenario))"
    }

    /// What the provider fake actually received.
    private func content(_ row: DeliveryReport.Row, _ scenario: Scenario) -> String {
        switch row.route {
        case "push":
            let token = scenario.device?.token ?? ""
            if let push = fakes.fcm.pushes.first(where: { $0.token == token }) { return "“\(push.title): \(push.body)”" }
            if let push = fakes.apns.pushes.first(where: { $0.deviceToken == token }) { return "“\(push.title): \(push.body)”" }
            return "(push accepted)"
        case "messenger":
            return quote(fakes.kakao.delivered(to: scenario.phone ?? "").first?.content ?? "")
        case "sms", "lms":
            return "to \(mask(scenario.phone ?? "")): " + quote(fakes.twilio.messages(to: scenario.phone ?? "").first?.body ?? "")
        default:
            guard let mail = fakes.smtp.messages.first(where: { $0.recipients.contains(scenario.email ?? "") })?.parsed else {
                return "(mail accepted)"
            }
            return "to \(scenario.email ?? ""): “\(mail.decodedHeader("Subject") ?? "")”, from \(mail.decodedHeader("From") ?? "?"), replies go to \(mail.header("Reply-To") ?? "?")"
                + DemoDomain.describe(row, signatureHeader: mail.header("DKIM-Signature"))
        }
    }

    private func outcome(_ status: String, _ reason: String) -> String {
        switch status {
        case "acknowledged": "the push reached the phone, so no text or email was sent."
        case "notified": reason.prefix(1).uppercased() + reason.dropFirst() + "."
        case "cancelled": "nothing sent — \(reason)."
        default: "\(status) — \(reason)"
        }
    }

    private func quote(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ⏎ ")
        return "“" + (flat.count > 110 ? String(flat.prefix(109)) + "…" : flat) + "”"
    }

    private func mask(_ phone: String) -> String {
        phone.count > 6 ? String(phone.prefix(5)) + String(repeating: "•", count: phone.count - 8) + String(phone.suffix(3)) : phone
    }

    private func printWallets() async throws {
        for name in [Self.acme, Self.bloom] {
            let channel = try await channelID(name)
            print("SMS wallet of \(name):")
            for line in try await Wallet.statement(channelID: channel, on: pool) {
                let change = line.promotionalChangeMicros + line.paidChangeMicros
                let amount = change == 0 ? String(repeating: " ", count: 10) : (change > 0 ? "+" : "") + Money.format(change)
                print("   \(line.kind.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) \(amount.padding(toLength: 10, withPad: " ", startingAt: 0))  available \(Money.format(line.availableAfterMicros))  — \(line.reason)")
            }
            let balance = try await Wallet.balance(channelID: channel, on: pool)
            print("   now: \(balance)\n")
        }
    }
}
