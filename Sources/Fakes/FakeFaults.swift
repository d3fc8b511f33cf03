import Foundation

/// A fault a provider fake injects, for tests of what happens when a provider misbehaves.
///
/// Faults that come *after handling* model a provider that did act on the request (a message
/// accepted, a push delivered) but whose answer never arrives or cannot be read; the others model
/// a provider that never acted on it.
public enum FakeFault: Sendable, Equatable {
    /// Handled, then the answer is held back this long (a hanging provider: the client times out).
    case hangAfterHandling(Duration)
    /// Handled, then the connection is closed without an answer.
    case dropAfterHandling
    /// Handled, then answered `200` with a body no client can read.
    case garbageSuccess
    /// Answered with this status (and a `Retry-After` header, if given) without being handled.
    case status(Int, retryAfter: String? = nil)
    /// Not handled: the connection is closed at once (the provider is unreachable).
    case unreachable
}

/// The faults a server is told to inject: each matches requests by method (nil: any) and is used
/// up after `times` requests. The first matching one applies.
struct FaultPlan: Sendable {
    struct Entry: Sendable {
        var fault: FakeFault
        var method: String?
        var path: String?
        var remaining: Int
    }
    var entries: [Entry] = []

    /// The fault for this request, if any (and counts it).
    mutating func take(_ request: FakeHTTPRequest) -> FakeFault? {
        guard let index = entries.firstIndex(where: { entry in
            entry.remaining > 0 && (entry.method.map { $0 == request.method } ?? true)
                && (entry.path.map { request.path.hasPrefix($0) } ?? true)
        }) else { return nil }
        entries[index].remaining -= 1
        let fault = entries[index].fault
        if entries[index].remaining == 0 { entries.remove(at: index) }
        return fault
    }
}
