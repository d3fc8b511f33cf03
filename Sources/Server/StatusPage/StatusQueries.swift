import Foundation
import FollowUp
import Jobs
import Postgres
import Wallet

/// What the status page reads. Every statement qualifies its tables and binds its values.
enum StatusQueries {
    struct KindRow: Sendable {
        var queue: String, kind: String
        var due: Int, scheduled: Int, running: Int, dead: Int
        var lagSeconds: Double
    }

    /// Depth and lag per queue and kind (finished jobs are not counted).
    static func kinds(on db: some Queryable) async throws -> [KindRow] {
        try await db.query("""
            SELECT j.queue, j.kind,
                   count(*) FILTER (WHERE j.state = 'available' AND j.run_at <= now())::bigint AS due,
                   count(*) FILTER (WHERE j.state = 'available' AND j.run_at > now())::bigint AS scheduled,
                   count(*) FILTER (WHERE j.state = 'running')::bigint AS running,
                   count(*) FILTER (WHERE j.state = 'dead')::bigint AS dead,
                   coalesce(extract(epoch FROM now() - min(j.run_at) FILTER (WHERE j.state = 'available' AND j.run_at <= now())), 0)::float8
                       AS lag_seconds
            FROM public.jobs j WHERE j.state IN ('available', 'running', 'dead')
            GROUP BY 1, 2 ORDER BY 1, 2
            """).map { row in
            KindRow(queue: try row.decode("queue"), kind: try row.decode("kind"),
                    due: try row.decode("due"), scheduled: try row.decode("scheduled"),
                    running: try row.decode("running"), dead: try row.decode("dead"),
                    lagSeconds: try row.decode("lag_seconds"))
        }
    }

    struct DeadJob: Sendable {
        var id: Int64, queue: String, kind: String, attempt: Int, finishedAt: Date?
        /// (attempt, at, error), oldest first.
        var errors: [(Int, String, String)]
    }

    static func deadJobs(limit: Int = 25, on db: some Queryable) async throws -> [DeadJob] {
        try await db.query("""
            SELECT j.id, j.queue, j.kind, j.attempt, j.finished_at,
                   coalesce((SELECT jsonb_agg(jsonb_build_array(e->>'attempt', e->>'at', e->>'error'))
                             FROM jsonb_array_elements(j.errors) e), '[]')::text AS errors
            FROM public.jobs j WHERE j.state = 'dead' ORDER BY j.finished_at DESC NULLS LAST, j.id DESC LIMIT \(limit)
            """).map { row in
            let json = try row.decode("errors", as: String.self)
            let entries = (try? JSONDecoder().decode([[String?]].self, from: Data(json.utf8))) ?? []
            return DeadJob(id: try row.decode("id"), queue: try row.decode("queue"),
                           kind: try row.decode("kind"), attempt: try row.decode("attempt"),
                           finishedAt: try row.decode("finished_at"),
                           errors: entries.map { (Int($0.first.flatMap { $0 } ?? "") ?? 0,
                                                  $0.count > 1 ? $0[1] ?? "" : "", $0.count > 2 ? $0[2] ?? "" : "") })
        }
    }

    struct FollowUpRow: Sendable {
        var id: Int64, channelID: Int64, chatID: Int64, status: FollowUpStatus, reason: String?, createdAt: Date
        var deliveries: [DeliveryRow] = []
    }

    struct DeliveryRow: Sendable {
        var id: Int64, route: String, status: DeliveryStatus, reason: String?, costMicros: Int64
    }

    /// The latest follow-ups, each with its deliveries (route, status, reason, cost; never the
    /// recipient or the body).
    static func followUps(limit: Int = 20, on db: some Queryable) async throws -> [FollowUpRow] {
        var followUps = try await db.query("""
            SELECT f.id, f.channel_id, f.chat_id, f.status, f.reason, f.created_at
            FROM public.follow_ups f ORDER BY f.id DESC LIMIT \(limit)
            """).map { row in
            FollowUpRow(id: try row.decode("id"), channelID: try row.decode("channel_id"),
                        chatID: try row.decode("chat_id"), status: try row.decode("status"),
                        reason: try row.decode("reason"), createdAt: try row.decode("created_at"))
        }
        guard let oldest = followUps.last?.id else { return [] }
        let deliveries = try await db.query("""
            SELECT d.follow_up_id, d.id, d.route, d.status, d.reason, d.cost_micros
            FROM public.deliveries d WHERE d.follow_up_id >= \(oldest) ORDER BY d.id
            """)
        var byFollowUp: [Int64: [DeliveryRow]] = [:]
        for row in deliveries {
            guard let followUp = try row.decode("follow_up_id", as: Int64?.self) else { continue }
            byFollowUp[followUp, default: []].append(DeliveryRow(
                id: try row.decode("id"), route: try row.decode("route"),
                status: try row.decode("status"), reason: try row.decode("reason"),
                costMicros: try row.decode("cost_micros")))
        }
        for index in followUps.indices { followUps[index].deliveries = byFollowUp[followUps[index].id] ?? [] }
        return followUps
    }

    static func statement(channelID: Int64, on db: some Queryable) async throws -> [StatementLine] {
        try await Wallet.statement(channelID: channelID, limit: 50, on: db)
    }
}
