import ArgumentParser
import Foundation
import Jobs
import Postgres

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Inspect and repair the job queue.",
        subcommands: [List.self, Stats.self, Retry.self, Cancel.self, Enqueue.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "available, running, completed (the last hour of job_history), dead or cancelled.") var state: String?
        @Option(help: "Only jobs of this kind.") var kind: String?
        @Option(help: "At most this many.") var limit: Int = 50

        func run() async throws {
            try await database.withPool { pool in
                var wanted: JobState?
                if let state {
                    guard let known = JobState(rawValue: state) else {
                        throw ValidationError("--state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")), not \(state)")
                    }
                    wanted = known
                }
                let jobs = try await JobAdmin.list(state: wanted, kind: kind, limit: limit, on: pool)
                if jobs.isEmpty { print("no jobs"); return }
                print(pad("ID", 8) + pad("STATE", 11) + pad("ATTEMPT", 9) + pad("QUEUE", 12) + pad("KIND", 30) + "LAST ERROR")
                for job in jobs {
                    print(pad(String(job.id), 8) + pad(job.state.rawValue, 11) + pad("\(job.attempt)/\(job.maxAttempts)", 9)
                          + pad(job.queue, 12) + pad(job.kind, 30) + (job.lastError.map { String($0.prefix(80)) } ?? ""))
                }
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Jobs per queue and state, and how many are due now.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.withPool { pool in
                print(pad("QUEUE", 14) + pad("STATE", 11) + pad("JOBS", 10) + "DUE NOW")
                for row in try await QueueMetrics.depth(pool) {
                    print(pad(row.queue, 14) + pad(row.state.rawValue, 11) + pad(String(row.count), 10) + String(row.due))
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a dead or cancelled job again now (its error history is kept).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The job's id.") var id: Int64

        func run() async throws {
            try await database.withPool { pool in
                guard try await JobAdmin.retry(id: id, on: pool) else {
                    throw ValidationError("job \(id) is not dead or cancelled (see `followup jobs list`)")
                }
                print("job \(id) will run again")
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a waiting or running job.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The job's id.") var id: Int64

        func run() async throws {
            try await database.withPool { pool in
                guard try await JobAdmin.cancel(id: id, on: pool) else {
                    throw ValidationError("job \(id) has already finished or does not exist")
                }
                print("job \(id) cancelled")
            }
        }
    }

    struct Enqueue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enqueue a job by kind (e.g. followup.noop, to check that pollers are alive).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The job kind.") var kind: String
        @Option(help: "JSON payload.") var payload: String = "{}"
        @Option(help: "Queue name.") var queue: String = "default"
        @Option(help: "Seconds from now.") var delay: Double = 0

        func run() async throws {
            guard (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) is [String: Any] else {
                throw ValidationError("--payload must be a JSON object")
            }
            try await database.withPool { pool in
                let id = try await JobQueue.enqueue(kind: kind, json: payload,
                                                    options: EnqueueOptions(queue: queue, delay: .milliseconds(Int64(delay * 1000))), on: pool)
                print(id.map { "enqueued job \($0)" } ?? "a live job with that unique key exists")
            }
        }
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
