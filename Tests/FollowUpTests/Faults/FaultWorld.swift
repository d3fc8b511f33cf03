import Fakes
import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport
import Wallet

/// What the fault tests share: a channel and customer for one route, and the checks every fault
/// test ends with (no hold left open, the ledger's integrity views empty).
enum FaultRoute: String, CaseIterable, Sendable, CustomStringConvertible {
    case sms, lms, messenger, email, push
    var description: String { rawValue }
}

extension FollowUpHarness {
    static let faultPhone = "+821012345678"

    /// A chat whose customer has just gone offline; the manager's answer makes a follow-up that
    /// goes by `route` alone (push: text and email only after a 60 s acknowledgement deadline).
    func offlineChat(for route: FaultRoute) async throws -> (channel: Int64, chat: Int64) {
        var options = ChannelOptions()
        options.phone = route != .email
        options.email = route == .email || route == .push
        options.messenger = route == .messenger
        options.push = route == .push
        options.pushAckTimeout = "60 seconds"
        let channel = try await self.channel(options)
        let customer = try await self.customer(channel: channel, phone: Self.faultPhone)
        if route == .push { try await device(customer: customer, token: Self.androidToken("fault")) }
        let chat = try await self.chat(channel: channel, customer: customer)
        try await message(chat: chat, "customer", "Hello")
        try await activity(customer: customer, "left")
        let answer = route == .lms
            ? String(repeating: "주문하신 상품은 오늘 발송되었습니다. 배송 조회는 링크를 확인해 주세요. ", count: 4)
            : "Your order shipped."
        try await message(chat: chat, "manager", answer)
        return (channel, chat)
    }

    /// The delivery of `route` once it is finished (nil if it is still queued or sending after `timeout`).
    func finished(chat: Int64, route: FaultRoute, timeout: Duration = .seconds(30)) async throws -> DeliveryRow? {
        let name = route.rawValue
        _ = try await eventually(timeout: timeout) {
            try await deliveries(chat: chat).first { $0.route == name }.map { !["queued", "sending"].contains($0.status) } ?? false
        }
        return try await deliveries(chat: chat).first { $0.route == name }.flatMap {
            ["queued", "sending"].contains($0.status) ? nil : $0
        }
    }

    /// `finished`, or a recorded failure (listing the chat's deliveries) that ends the test.
    func requireFinished(chat: Int64, route: FaultRoute, timeout: Duration = .seconds(30),
                         sourceLocation: SourceLocation = #_sourceLocation) async throws -> DeliveryRow {
        if let row = try await finished(chat: chat, route: route, timeout: timeout) { return row }
        let rows = try await deliveries(chat: chat)
        Issue.record("the \(route) delivery never finished: \(rows)", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    /// Money held and not settled (0 once every hold was captured or released).
    func held(_ channel: Int64) async throws -> Int64 {
        try await pool.scalar("SELECT held FROM wallet.balance(\(channel))", as: Int64.self)
    }

    /// Every hold settled, no delivery job dead, the wallet's integrity views empty.
    func expectSettled(_ channel: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await held(channel) == 0, "a hold is left open", sourceLocation: sourceLocation)
        let dead = try await pool.scalar("SELECT count(*)::int FROM jobs WHERE state = 'dead'", as: Int.self)
        #expect(dead == 0, "a job died", sourceLocation: sourceLocation)
        #expect(try await Wallet.integrityProblems(on: pool).isEmpty, sourceLocation: sourceLocation)
    }
}
