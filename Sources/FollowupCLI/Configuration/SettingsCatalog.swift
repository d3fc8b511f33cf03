import FollowUp
import Jobs
import Postgres

/// Every setting an operator can give `followup run` and `followup config check`, by environment
/// variable or in the `--config` file under the same name. This list is what the file may hold,
/// what `run --help` prints, and what docs/configuration.md documents (keep the three in step).
struct Setting: Sendable {
    enum Need: Sendable {
        case required
        /// Optional; the text is the default (or what leaving it unset means).
        case optional(String)
        /// Needed only together with another setting, as the text says.
        case conditional(String)
    }

    var name: String
    var need: Need
    var meaning: String
    /// Never printed: `config check` shows only that it is set.
    var secret = false
}

enum SettingsCatalog {
    static let database: [Setting] = [
        Setting(name: "DATABASE_URL", need: .required,
                meaning: "Postgres URL or libpq conninfo (`--database-url` wins over it)", secret: true),
        Setting(name: "FOLLOWUP_NO_PREPARED_STATEMENTS", need: .optional("0"),
                meaning: "1 behind a transaction-mode connection pooler (PgBouncer without `max_prepared_statements`): statements go unnamed, each transaction sets the search path, and there is no LISTEN (the poller wakes by its safety poll). `--no-prepared-statements` does the same. At 0 a transaction-mode pooler is refused with a message naming it (docs/postgres-client.md)"),
    ]

    static let product: [Setting] = [
        Setting(name: "FOLLOWUP_SMS_FROM", need: .required,
                meaning: "SMS sender for channels without their own `sms_from`: an E.164 number, an alphanumeric sender id (up to 11), or a Twilio Messaging Service SID (`MG…`)"),
        Setting(name: "FOLLOWUP_EMAIL_FROM", need: .required,
                meaning: "email From for channels without a verified domain: `Name <address>` or `address` (the name is used for channels without `email_from_name`; without one, the channel's name)"),
        Setting(name: "FOLLOWUP_REPLY_DOMAIN", need: .required,
                meaning: "replies go to chat-<id>@this domain (and Message-IDs end in it); point its MX at `followup mail-in`"),
        Setting(name: "FOLLOWUP_CHAT_URL_BASE", need: .required,
                meaning: "http(s) base of \"back to the chat\" links, <base>/chats/<chat id>, for channels without their own `link_base_url`"),
        Setting(name: "FOLLOWUP_GATHER_DELAY", need: .optional(seconds(FollowUpSettings().gatherDelay)),
                meaning: "seconds to wait after a customer goes offline before notifying, so answers typed in a row go out as one (0 to 3600)"),
        Setting(name: "FOLLOWUP_DELIVERY_ATTEMPTS", need: .optional(String(FollowUpSettings().deliveryAttempts)),
                meaning: "a hard cap on send attempts per delivery (1 to 100); the retry window normally ends retries first"),
        Setting(name: "FOLLOWUP_RETRY_WINDOW", need: .optional(seconds(FollowUpSettings().retryWindow)),
                meaning: "seconds a delivery keeps being retried after its first attempt before it fails (60 to 86400)"),
        Setting(name: "FOLLOWUP_RETRY_AFTER_CAP", need: .optional(seconds(FollowUpSettings().retryAfterCap)),
                meaning: "the longest a provider's Retry-After is honoured, in seconds (1 to 86400)"),
        Setting(name: "FOLLOWUP_LOOKUP_GRACE", need: .optional(seconds(FollowUpSettings().lookupGrace)),
                meaning: "seconds a provider's \"not found\" for an interrupted text is not believed (its listing may lag) (0 to 3600)"),
        Setting(name: "FOLLOWUP_LOOKUP_WINDOW", need: .optional(seconds(FollowUpSettings().lookupWindow)),
                meaning: "seconds an interrupted text keeps being looked up before it is recorded unknown (60 to 86400)"),
        Setting(name: "FOLLOWUP_RETRY_BASE", need: .optional(seconds(WorkerConfiguration().backoff.base)),
                meaning: "seconds: a failed job's n-th retry waits a random time in [½, 1] × base × 2^(n−1)"),
        Setting(name: "FOLLOWUP_RETRY_MAX", need: .optional(seconds(WorkerConfiguration().backoff.maximum)),
                meaning: "seconds: the longest wait between two retries"),
        Setting(name: "FOLLOWUP_JOB_RETENTION", need: .optional(seconds(WorkerConfiguration().retention)),
                meaning: "seconds completed jobs' history (`job_history`, dropped by hourly partition) and cancelled jobs are kept"),
        Setting(name: "FOLLOWUP_DEAD_JOB_RETENTION", need: .optional(seconds(WorkerConfiguration().deadRetention)),
                meaning: "seconds dead jobs are kept for `followup jobs` to list and retry"),
    ]

    /// Operating it: readiness, the status page (docs/operations.md).
    static let operations: [Setting] = [
        Setting(name: "FOLLOWUP_READY_TIMEOUT", need: .optional(seconds(OperatorConfiguration.defaultReadyTimeout)),
                meaning: "seconds `run` waits at start for the database to answer with a current schema before it exits 69 (0 to 3600)"),
        Setting(name: "FOLLOWUP_STATUS_PASSWORD", need: .optional("the status page off"),
                meaning: "`serve`'s status page at `/`: the HTTP basic auth password (any user name; 12+ characters)", secret: true),
        Setting(name: "FOLLOWUP_OPERATOR_DATABASE_URL", need: .optional("the status page read-only"),
                meaning: "`serve`'s status page reads and acts (retry) through this login, a member of `followup_operator`", secret: true),
    ]

    static let providers: [Setting] = [
        Setting(name: "FOLLOWUP_PROVIDER_TIMEOUT", need: .optional("15"), meaning: "seconds one provider call may take (up to 600)"),
        Setting(name: "FOLLOWUP_TWILIO_ACCOUNT_SID", need: .required, meaning: "Twilio account (`AC…`)"),
        Setting(name: "FOLLOWUP_TWILIO_AUTH_TOKEN", need: .required, meaning: "Twilio auth token", secret: true),
        Setting(name: "FOLLOWUP_TWILIO_BASE_URL", need: .optional("https://api.twilio.com"), meaning: "Twilio REST base URL"),
        Setting(name: "FOLLOWUP_PUBLIC_URL", need: .optional("receipts and one-click unsubscribe off"),
                meaning: "where `followup serve` is reached from the internet: Twilio's status callbacks and the unsubscribe link (docs/webhooks.md)"),
        Setting(name: "FOLLOWUP_SMTP_URL", need: .required, meaning: "`smtp://host:587` (STARTTLS) or `smtps://host:465`"),
        Setting(name: "FOLLOWUP_SMTP_USER", need: .conditional("with the password"), meaning: "SMTP AUTH user"),
        Setting(name: "FOLLOWUP_SMTP_PASSWORD", need: .conditional("with the user"), meaning: "SMTP AUTH password", secret: true),
        Setting(name: "FOLLOWUP_SMTP_STARTTLS", need: .optional("required"), meaning: "`required`, `if-available` or `never`"),
        Setting(name: "FOLLOWUP_KAKAO_SECRET_KEY", need: .optional("messenger off"), meaning: "enables the messenger (Kakao bizmessage `X-Secret-Key`)", secret: true),
        Setting(name: "FOLLOWUP_KAKAO_BASE_URL", need: .conditional("with the Kakao key"), meaning: "bizmessage gateway base URL"),
        Setting(name: "FOLLOWUP_STRIPE_SECRET_KEY", need: .optional("auto-charge off"), meaning: "enables auto-charge payments (`sk_…`)", secret: true),
        Setting(name: "FOLLOWUP_STRIPE_BASE_URL", need: .optional("https://api.stripe.com"), meaning: "Stripe base URL"),
        Setting(name: "FOLLOWUP_FCM_SERVICE_ACCOUNT_FILE", need: .optional("Android push off"), meaning: "enables Android push: path to the service account's JSON key"),
        Setting(name: "FOLLOWUP_FCM_ACCESS_TOKEN", need: .optional("none"), meaning: "a fixed OAuth2 token instead of the key file (demo, short runs)", secret: true),
        Setting(name: "FOLLOWUP_FCM_PROJECT_ID", need: .conditional("with FCM"), meaning: "Firebase project id"),
        Setting(name: "FOLLOWUP_FCM_BASE_URL", need: .optional("https://fcm.googleapis.com"), meaning: "FCM base URL"),
        Setting(name: "FOLLOWUP_APNS_TOPIC", need: .optional("iOS push off"), meaning: "enables iOS push: the app's bundle id"),
        Setting(name: "FOLLOWUP_APNS_KEY_ID", need: .conditional("with the topic"), meaning: "the `.p8` key's id"),
        Setting(name: "FOLLOWUP_APNS_TEAM_ID", need: .conditional("with the topic"), meaning: "the Apple team id"),
        Setting(name: "FOLLOWUP_APNS_KEY_FILE", need: .conditional("with the topic"), meaning: "path to the `.p8` key"),
        Setting(name: "FOLLOWUP_APNS_BASE_URL", need: .optional("https://api.push.apple.com"), meaning: "APNs base URL (sandbox for development builds)"),
    ]

    /// The two-way conversation: replies, bounces, unsubscribe (docs/webhooks.md).
    static let twoWay: [Setting] = [
        Setting(name: "FOLLOWUP_REPLY_SECRET", need: .optional("replies off"),
                meaning: "signs reply addresses, bounce addresses and unsubscribe links (16+ characters; the same for run, serve and mail-in)", secret: true),
        Setting(name: "FOLLOWUP_INBOUND_MAIL_SECRET", need: .optional("the email webhook off"),
                meaning: "what `POST /webhooks/email/inbound` must carry in X-Followup-Secret", secret: true),
    ]

    /// Custom sender domains (docs/email-domains.md).
    static let emailDomains: [Setting] = [
        Setting(name: "FOLLOWUP_SECRETS_KEY", need: .optional("custom domains off"),
                meaning: "32 random bytes, base64: seals the DKIM private keys (AES-256-GCM); the same on every poller and the CLI", secret: true),
        Setting(name: "FOLLOWUP_DNS_SERVER", need: .optional("the first nameserver of /etc/resolv.conf"),
                meaning: "`host:port` of the resolver domain verification asks"),
        Setting(name: "FOLLOWUP_SPF_INCLUDE", need: .optional("include:_spf.followup.example"),
                meaning: "the SPF mechanism the sending path needs in a company's SPF record"),
        Setting(name: "FOLLOWUP_DOMAIN_VERIFY_MINUTES", need: .optional("15"),
                meaning: "how often the periodic job checks every domain's DNS records"),
    ]

    /// Tables that stay small: `activity` partitions and retention (docs/scale.md).
    static let retention: [Setting] = [
        Setting(name: "FOLLOWUP_ACTIVITY_RETENTION_DAYS", need: .optional(days(RetentionSettings().activity)),
                meaning: "days `activity` rows are kept (1 to 366); each customer's newest row is kept regardless"),
        Setting(name: "FOLLOWUP_ACTIVITY_DAYS_AHEAD", need: .optional(String(RetentionSettings().activityDaysAhead)),
                meaning: "days of `activity` partitions made ahead of today (1 to 60)"),
        Setting(name: "FOLLOWUP_DELIVERY_RETENTION_DAYS", need: .optional(days(RetentionSettings().deliveries)),
                meaning: "days finished deliveries no ledger transfer names are kept (1 to 3660)"),
        Setting(name: "FOLLOWUP_FOLLOW_UP_RETENTION_DAYS", need: .optional(days(RetentionSettings().followUps)),
                meaning: "days finished follow-ups without deliveries are kept (1 to 3660)"),
        Setting(name: "FOLLOWUP_INBOUND_EVENT_RETENTION_DAYS", need: .optional(days(RetentionSettings().inboundEvents)),
                meaning: "days inbound event ids are remembered (1 to 3660)"),
    ]

    private static func days(_ duration: Duration) -> String { String(duration.components.seconds / 86_400) }

    /// Defaults are read from the structs that hold them, so help never disagrees with the code.
    private static func seconds(_ duration: Duration) -> String {
        let value = duration.seconds
        return value == value.rounded() ? String(Int64(value)) : String(value)
    }

    static let all: [Setting] = database + product + providers + twoWay + emailDomains + operations + retention
    static let names: Set<String> = Set(all.map(\.name))

    /// A yes/no setting's value: 1, true, yes or on (any case) is yes.
    static func isOn(_ value: String?) -> Bool {
        guard let value = value?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(value)
    }
    static let secrets: Set<String> = Set(all.filter(\.secret).map(\.name))

    /// The variables, for `run --help` and `config --help`: one line each.
    static var helpText: String {
        func lines(_ settings: [Setting]) -> String {
            settings.map { setting in
                let need: String
                switch setting.need {
                case .required: need = "required"
                case .optional(let text): need = "default: \(text)"
                case .conditional(let text): need = text
                }
                return "  \(setting.name) (\(need))"
            }.joined(separator: "\n")
        }
        return """
            Settings: environment variables, or NAME=value lines in --config FILE (variables win). \
            Every one, with its meaning: docs/configuration.md. Check them: `followup config check`.

            Database:
            \(lines(database))

            The product:
            \(lines(product))

            Providers:
            \(lines(providers))

            Replies and unsubscribe:
            \(lines(twoWay))

            Custom sender domains:
            \(lines(emailDomains))

            Operations (readiness, serve's status page):
            \(lines(operations))

            Tables that stay small (retention):
            \(lines(retention))
            """
    }
}
