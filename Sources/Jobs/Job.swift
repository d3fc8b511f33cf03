import Foundation
import Postgres

/// A claimed job, as its handler sees it.
public struct Job: Sendable {
    public var id: Int64
    public var queue: String
    public var kind: String
    /// The payload as JSON text; decode it with `JobContext.payload(as:)`.
    public var payload: String
    /// 1 on the first run, incremented by every claim.
    public var attempt: Int
    public var maxAttempts: Int
    public var priority: Int
    public var runAt: Date
    public var createdAt: Date
    /// How late the claim was: claim time − `runAt`, in seconds (database clock).
    public var lateness: Double
}

/// A job type with a Codable payload and a stable name, for typed enqueue and handlers.
public protocol JobPayload: Codable, Sendable {
    static var kind: String { get }
}

/// What a handler wants done with its job when it returns.
public enum JobResult: Sendable {
    /// Done. If the handler did not already complete it through `JobContext.complete`, the
    /// worker marks it completed.
    case done
    /// Not yet: run it again after `delay`. Does not use up an attempt.
    case snooze(Duration)
}

/// Thrown by a handler for a failure that retrying cannot fix: the job goes straight to `dead`,
/// with the reason in its error history.
public struct PermanentJobError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// An error that says when trying again makes sense (e.g. an HTTP 429's `Retry-After`). A failed
/// job whose error conforms waits at least that long — capped at
/// `WorkerConfiguration.retryAfterCap` — and never less than its backoff.
public protocol RetryAfterHint: Error {
    /// nil: no hint, the backoff alone decides.
    var retryAfter: Duration? { get }
}

/// Thrown when a fenced write finds the job no longer ours: its lease ran out and it was rescued,
/// or an operator cancelled it. Nothing the handler wrote in that transaction is kept.
public struct LeaseLostError: Error, Sendable, CustomStringConvertible {
    public var jobID: Int64
    public var attempt: Int
    public var description: String { "job \(jobID) attempt \(attempt) is no longer running here (lease lost or cancelled)" }
}

/// A handler's view of its job and of the database.
public struct JobContext: Sendable {
    public let job: Job
    public let database: ConnectionPool
    let completedFlag = LockedValue(false)
    let markedInTransaction = LockedValue(false)
    /// How long `complete` keeps trying to record an outcome through a lost connection (the
    /// worker sets its lease: past it, a rescuer may own the job).
    var connectionLossWindow: Duration = .seconds(60)

    /// Decodes the payload; a malformed payload is a permanent error (retrying cannot fix it).
    public func payload<T: Decodable>(as type: T.Type) throws -> T {
        do {
            return try JSONDecoder.jobs.decode(T.self, from: Data(job.payload.utf8))
        } catch {
            throw PermanentJobError("payload of \(job.kind) job \(job.id) does not decode as \(T.self): \(Self.describe(error))")
        }
    }

    /// Runs `body` in a transaction that also completes the job, fenced on (id, attempt): the
    /// outcome, any money moved and the completion commit together, or none of them does.
    /// Throws `LeaseLostError` (and writes nothing) when the job is no longer ours. A connection
    /// that breaks under it (a restart, a failover) is retried on a new one within the lease,
    /// without running the job again: see `completeSurvivingConnectionLoss`.
    ///
    /// The job's row is locked last, after everything `body` locks: an app transaction that
    /// locks its own rows and then enqueues a job (a trigger) takes them in the same order, so the
    /// two can wait for each other but never deadlock.
    /// A body that must mark the job completed earlier — e.g. to enqueue its own successor under
    /// the same unique key — calls `markCompleted(on:)` where it needs to.
    @discardableResult
    public func complete<T>(_ body: (Transaction) async throws -> T) async throws -> T {
        // A connection lost under it is survived, not thrown (JobContext+ConnectionLoss.swift).
        let result = try await completeSurvivingConnectionLoss(body)
        completedFlag.withLock { $0 = true }
        return result
    }

    /// Inside `complete`'s body: marks the job completed here, before the statements that follow
    /// (fenced: `complete` throws `LeaseLostError` when the job is no longer ours), rather than
    /// with the COMMIT. Queued, so it travels with the next statement. Everything still commits
    /// or rolls back together.
    public func markCompleted(on tx: Transaction) {
        tx.queue(QueueSQL.completeOrRaise(id: job.id, attempt: job.attempt))
        markedInTransaction.withLock { $0 = true }
    }

    /// Runs `body` in a transaction fenced on (id, attempt) that leaves the job running: for the
    /// step before an external call (e.g. mark a delivery `sending` and hold its funds). Like
    /// `complete`, the job's row is locked last.
    public func fenced<T>(_ body: (Transaction) async throws -> T) async throws -> T {
        try await leaseChecked {
            try await database.withTransaction { tx in
                let result = try await body(tx)
                tx.queue(QueueSQL.fenceOrRaise(id: job.id, attempt: job.attempt))  // travels with COMMIT
                return result
            }
        }
    }

    /// The fenced statements (queued, so they may travel with COMMIT) raise `FJ001` when the job is no longer ours.
    func leaseChecked<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            return try await operation()
        } catch let error as PostgresError where error.sqlState == QueueSQL.leaseLostState {
            throw LeaseLostError(jobID: job.id, attempt: job.attempt)
        }
    }

    var completed: Bool { completedFlag.current }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: return "\(error)"
        }
    }
}

extension JSONDecoder {
    static let jobs: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

extension JSONEncoder {
    static let jobs: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
}
