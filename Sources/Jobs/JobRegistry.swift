import Foundation

/// Maps job kinds to their handlers. A job of a kind nobody registered goes to `dead` with a
/// clear error (nothing is lost: an operator can retry it once a handler exists).
public struct JobRegistry: Sendable {
    public typealias Handler = @Sendable (JobContext) async throws -> JobResult
    private(set) var handlers: [String: Handler] = [:]

    public init() {}

    /// Registers a handler for raw jobs of `kind`.
    public mutating func register(kind: String, _ handler: @escaping Handler) {
        precondition(handlers[kind] == nil, "two handlers for job kind \(kind)")
        handlers[kind] = handler
    }

    /// Registers a typed handler: the payload is decoded for you (a malformed one is a permanent error).
    public mutating func register<P: JobPayload>(_ type: P.Type, _ handler: @escaping @Sendable (P, JobContext) async throws -> JobResult) {
        register(kind: P.kind) { context in
            try await handler(try context.payload(as: P.self), context)
        }
    }

    public func handler(for kind: String) -> Handler? { handlers[kind] }
    public var kinds: [String] { handlers.keys.sorted() }
}
