import Logging
import Postgres

/// Every record a logger wrote — level, message, metadata — for tests that check what is logged
/// (a warning said once) or what logs may never hold (secrets, addresses, bodies).
public final class CapturedLogs: Sendable {
    public struct Record: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: Logger.Metadata
        /// The record as one line: level, message, sorted metadata, and the error if any.
        public var line: String
    }

    private let box = LockedValue<[Record]>([])
    public init() {}

    public var records: [Record] { box.current }
    public var lines: [String] { records.map(\.line) }

    public func logger(label: String = "test") -> Logger {
        let box = self.box
        var logger = Logger(label: label) { _ in Handler(box: box) }
        logger.logLevel = .trace
        return logger
    }

    struct Handler: LogHandler {
        let box: LockedValue<[Record]>
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            let error = event.error.map { " error=\($0)" } ?? ""
            let line = "\(event.level) \(event.message) \(all.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))\(error)"
            box.withLock { $0.append(Record(level: event.level, message: event.message.description, metadata: all, line: line)) }
        }
    }
}
