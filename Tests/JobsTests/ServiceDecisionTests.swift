import Foundation
@testable import Jobs
import Testing

/// The decisions inside the worker's services that need no database.
@Suite("Worker decisions")
struct ServiceDecisionTests {
    @Test("producer: a claim takes up to a batch of free slots, and waits until half a batch is free",
          arguments: [
            // (batch, concurrency, busy) → slots granted
            (10, 16, 0, 10), (10, 16, 6, 10), (10, 16, 7, 9), (10, 16, 11, 5), (10, 16, 12, 0), (10, 16, 16, 0),
            (10, 4, 0, 4), (10, 4, 2, 2), (10, 4, 3, 0), (1, 8, 7, 1), (1, 8, 8, 0),
          ])
    func slotGrant(batch: Int, concurrency: Int, busy: Int, granted: Int) {
        #expect(QueueSlots.grant(batch: batch, concurrency: concurrency, busy: busy) == granted)
    }

    @Test("producer: reserved slots are held until released, per queue")
    func reserveRelease() {
        var configuration = WorkerConfiguration()
        configuration.queues = [.init("a", concurrency: 4), .init("b", concurrency: 4)]
        configuration.claimBatch = 4
        let slots = QueueSlots(configuration)
        #expect(slots.reserve("a") == 4)
        #expect(slots.reserve("a") == 0)
        #expect(slots.reserve("b") == 4)
        slots.release("a", 1)
        #expect(slots.reserve("a") == 0, "one free slot is less than half a batch")
        slots.release("a", 1)
        #expect(slots.reserve("a") == 2)
    }

    struct Hinted: RetryAfterHint { var retryAfter: Duration? }

    @Test("executor: a failure waits its backoff, longer when it asks (capped), and a permanent one is not retried")
    func retryPlan() {
        var configuration = WorkerConfiguration()
        configuration.backoff = Backoff(base: .seconds(1), maximum: .seconds(100))
        configuration.retryAfterCap = .seconds(60)
        let plain = Executor.retryPlan(after: CancellationError(), attempt: 3, configuration: configuration)
        #expect(plain.backoff >= .seconds(2) && plain.backoff <= .seconds(4))
        #expect(!plain.permanent)
        #expect(Executor.retryPlan(after: Hinted(retryAfter: .seconds(30)), attempt: 1, configuration: configuration).backoff == .seconds(30))
        #expect(Executor.retryPlan(after: Hinted(retryAfter: .seconds(9999)), attempt: 1, configuration: configuration).backoff == .seconds(60))
        let small = Executor.retryPlan(after: Hinted(retryAfter: .milliseconds(1)), attempt: 3, configuration: configuration).backoff
        #expect(small >= .seconds(2), "a hint never shortens the backoff")
        #expect(Executor.retryPlan(after: PermanentJobError("no"), attempt: 1, configuration: configuration).permanent)
    }

    @Test("history partitions: aligned to the width, the current one and `ahead` more; dropped once older than the retention")
    func historyPlan() {
        let now = Date(timeIntervalSince1970: 1_800_000_000 + 1234)  // 1_800_000_000 is a multiple of 3600
        let plan = HistoryPartitions.Plan(now: now, width: .seconds(3600), ahead: 2, retention: .seconds(86_400), includingCurrent: true)
        #expect(plan.create.map(\.lowerBound.timeIntervalSince1970) == [1_800_000_000, 1_800_003_600, 1_800_007_200])
        #expect(plan.create.allSatisfy { $0.upperBound.timeIntervalSince($0.lowerBound) == 3600 })
        #expect(plan.create[0].contains(now))
        #expect(plan.dropBefore == now.addingTimeInterval(-86_400))
        // The periodic passes never ATTACH the range completions are writing into (23514 race),
        // and always make at least the next one.
        let periodic = HistoryPartitions.Plan(now: now, width: .seconds(3600), ahead: 2, retention: .seconds(86_400), includingCurrent: false)
        #expect(periodic.create.map(\.lowerBound.timeIntervalSince1970) == [1_800_003_600, 1_800_007_200])
        let daily = HistoryPartitions.Plan(now: now, width: .seconds(86_400), ahead: 0, retention: .seconds(3600), includingCurrent: true)
        #expect(daily.create.count == 2 && daily.create[0].contains(now))
        let dailyPeriodic = HistoryPartitions.Plan(now: now, width: .seconds(86_400), ahead: 0, retention: .seconds(3600), includingCurrent: false)
        #expect(dailyPeriodic.create.count == 1 && dailyPeriodic.create[0].lowerBound > now)
    }

    @Test("JobState: every job_state value decodes, an unknown one is a clear error")
    func jobState() throws {
        for state in JobState.allCases {
            #expect(try JobState(postgresText: state.rawValue) == state)
            #expect(state.postgresText == state.rawValue)
        }
        #expect(throws: UnknownJobState.self) { try JobState(postgresText: "paused") }
        #expect(JobState.running.literal == "'running'::public.job_state")
        #expect(JobState.allCases.filter(\.isLive) == [.available, .running])
    }
}
