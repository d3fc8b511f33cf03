import Postgres

/// The status page's settings (docs/operations.md): on when `FOLLOWUP_STATUS_PASSWORD` is set.
///
/// - `password`: HTTP basic auth (any user name, this password); the page refuses everything
///   without it.
/// - `operatorPool`: a pool on a login of `followup_operator` (`FOLLOWUP_OPERATOR_DATABASE_URL`).
///   The page reads and acts through it only, so the retry button has the operator's rights and
///   nothing more. Without it the page reads through `serve`'s own pool and offers no actions
///   (and no wallet statement, which only operators and finance may read).
/// - `secureCookie`: mark the CSRF cookie `Secure` (when `serve` is reached over HTTPS).
public struct StatusPageSettings: Sendable {
    public var password: String
    public var operatorPool: ConnectionPool?
    public var secureCookie: Bool

    public init(password: String, operatorPool: ConnectionPool?, secureCookie: Bool = false) {
        self.password = password
        self.operatorPool = operatorPool
        self.secureCookie = secureCookie
    }
}
