/// Exponential backoff with full jitter: attempt n waits a random time in
/// [base·2^(n−1) / 2, base·2^(n−1)], capped at `maximum`.
public struct Backoff: Sendable {
    public var base: Duration
    public var maximum: Duration

    public init(base: Duration = .seconds(1), maximum: Duration = .seconds(3600)) {
        self.base = base
        self.maximum = maximum
    }

    public func delay(afterAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(base.seconds * Double(1 << exponent), maximum.seconds)
        let jittered = ceiling * Double.random(in: 0.5...1.0)
        return .microseconds(Int64(jittered * 1_000_000))
    }
}
