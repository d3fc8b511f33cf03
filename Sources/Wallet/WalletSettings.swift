/// The wallet's knobs. Every wait is a setting, so tests run the same code in milliseconds.
public struct WalletSettings: Sendable {
    /// Promotional credit granted to every paid-plan channel each calendar month (UTC). $10.
    public var monthlyCreditMicros: Int64 = 10 * Money.microsPerDollar
    /// How often the monthly-credit job runs (it grants each month once, whenever it runs).
    public var monthlyCreditCheck: Duration = .seconds(3600)
    /// Channels granted per transaction by the monthly-credit job.
    public var monthlyCreditBatch = 200
    /// Currency of card top-ups (wallet amounts are USD micro-units).
    public var currency = "usd"
    /// After a declined top-up, no new one for this long, doubling with each consecutive decline…
    public var declineBackoff: Duration = .seconds(3600)
    /// …up to this.
    public var maxDeclineBackoff: Duration = .seconds(86_400)

    public init() {}
}
