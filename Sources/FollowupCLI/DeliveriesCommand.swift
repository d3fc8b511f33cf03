import ArgumentParser
import FollowUp
import Foundation
import Postgres

/// `followup deliveries`: "were my texts sent, and if not, why?" — the delivery log.
struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "Every follow-up attempt (push, messenger, SMS/LMS, email): sent or not, and why.",
        discussion: """
            Reads the delivery_report view (the same answer in SQL:
              SELECT created_at, route, status, why FROM public.delivery_report WHERE channel_id = 1 ORDER BY created_at DESC;)

            Examples:
              followup deliveries --channel 1                    the newest 50 attempts of channel 1
              followup deliveries --channel 1 --kind text --status failed --since-hours 24
              followup deliveries --channel 1 --status undelivered      the carrier refused them (Twilio receipts)
              followup deliveries --channel 1 --status suppressed       not sent: opted out (STOP, unsubscribe, hard bounce)
              followup deliveries --channel 1 --summary          counts and cost per kind and status
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Only this channel (company).") var channel: Int64?
    @Option(help: "Only this chat.") var chat: Int64?
    @Option(help: "Only this status: queued, sending, sent, delivered, undelivered, bounced, suppressed, failed, excluded, capped, unknown.")
    var status: String?
    @Option(help: "Only this kind: text, email or push.") var kind: String?
    @Option(help: "Only attempts from the last N hours.") var sinceHours: Double?
    @Option(help: "At most this many rows.") var limit: Int = 50
    @Flag(help: "Counts and cost per kind and status instead of rows.") var summary = false

    func validate() throws {
        if let status, DeliveryStatus(rawValue: status) == nil {
            let statuses = DeliveryStatus.allCases.map(\.rawValue)
            throw ValidationError("--status must be one of \(statuses.joined(separator: ", "))")
        }
        if let kind, !["text", "email", "push"].contains(kind) {
            throw ValidationError("--kind must be text, email or push")
        }
        if let sinceHours, sinceHours <= 0 { throw ValidationError("--since-hours must be positive") }
        if limit <= 0 { throw ValidationError("--limit must be positive") }
    }

    func run() async throws {
        try await database.withPool { pool in
            let since = sinceHours.map { Duration.milliseconds(Int64($0 * 3_600_000)) }
            if summary {
                let counts = try await DeliveryReport.summary(channelID: channel, since: since, on: pool)
                if counts.isEmpty { print("No deliveries yet."); return }
                print(DeliveriesTable.render(header: ["kind", "status", "count", "cost"], counts.map {
                    [$0.kind, $0.status.rawValue, String($0.count), DeliveriesTable.money($0.costMicros)]
                }))
                return
            }
            let rows = try await DeliveryReport.list(.init(channelID: channel, chatID: chat, status: status.flatMap(DeliveryStatus.init(rawValue:)), kind: kind,
                                                           since: since, limit: limit), on: pool)
            if rows.isEmpty { print("No deliveries match."); return }
            print(DeliveriesTable.render(header: ["time (UTC)", "channel", "chat", "route", "status", "why", "cost"], rows.map { row in
                var why = row.why
                if let code = row.providerCode, !why.contains(code) { why += " [code \(code)]" }
                if let route = row.replacedByRoute {
                    why += " → replaced by \(route.uppercased()) (\(row.replacedByStatus?.rawValue ?? "?"))"
                }
                if let domain = row.fromDomain {
                    why += " · from \(domain), \(row.dkimSigned == true ? "DKIM-signed" : "not signed by the channel's key")"
                    if let note = row.senderNote { why += " (\(note))" }
                }
                return [DeliveriesTable.time(row.createdAt), String(row.channelID), row.chatID.map(String.init) ?? "-",
                        row.route, row.status.rawValue, why, DeliveriesTable.money(row.costMicros)]
            }))
        }
    }
}

/// Plain-text tables for the operator commands.
enum DeliveriesTable {
    static func render(header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n")
    }

    static func money(_ micros: Int64) -> String {
        micros == 0 ? "-" : String(format: "$%.4f", Double(micros) / 1_000_000)
    }

    static func time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }
}
