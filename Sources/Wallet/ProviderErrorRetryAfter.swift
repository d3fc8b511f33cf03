import Jobs
import Providers

/// A payment provider's `Retry-After` (a 429 from the Stripe-style API) reaches the queue: a
/// failed top-up job waits at least that long, capped by `WorkerConfiguration.retryAfterCap`.
extension ProviderError: RetryAfterHint {}
