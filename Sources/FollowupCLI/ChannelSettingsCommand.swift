import ArgumentParser
import FollowUp
import Foundation
import Postgres

/// `followup channel show CHANNEL`: the channel's follow-up settings.
struct ChannelShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "A channel's follow-up settings: toggles, waits, cooldown, caps, quiet hours.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The channel id.") var channel: Int64

    func run() async throws {
        try await ChannelSetCommand.report(database) { pool in
            guard let settings = try await ChannelSettings.load(channel, on: pool) else {
                throw ChannelSettingsError("there is no channel \(channel)")
            }
            return settings.description
        }
    }
}

/// `followup channel set CHANNEL --option value …`: changes only what is given, after checking
/// every value (all problems are listed at once, and nothing is changed if any).
struct ChannelSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a channel's follow-up settings (only the options given).",
        discussion: """
            Durations: 30s, 4m30s, 10m, 1h (or plain seconds). Caps: a number, or none. Quiet hours are
            the customer's local time (their time_zone, else their phone's country, else the channel's).
              followup channel set 42 --phone on --email on
              followup channel set 42 --cooldown 10m --max-texts-per-day 3 --max-emails-per-day 3
              followup channel set 42 --quiet-hours 21:00-08:00 --time-zone Asia/Seoul
              followup channel set 42 --quiet-hours off
            """)
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The channel id.") var channel: Int64
    @Option(help: ArgumentHelp("Text notifications (the 'Phone number' toggle).", valueName: "on|off")) var phone: String?
    @Option(help: ArgumentHelp("Email notifications (the 'Email' toggle).", valueName: "on|off")) var email: String?
    @Option(help: ArgumentHelp("No activity for this long = offline (default 4m30s).", valueName: "duration")) var offlineTimeout: String?
    @Option(help: ArgumentHelp("Wait this long for a push receipt before text and email (default 30s).", valueName: "duration"))
    var pushAckTimeout: String?
    @Option(help: ArgumentHelp("Later answers in one absence wait this long after a follow-up, then go as one (default 10m; 0: off).",
                               valueName: "duration")) var cooldown: String?
    @Option(help: ArgumentHelp("Texts per chat in 24 hours (default 3).", valueName: "n|none")) var maxTextsPerDay: String?
    @Option(help: ArgumentHelp("Emails per chat in 24 hours (default 3).", valueName: "n|none")) var maxEmailsPerDay: String?
    @Option(help: ArgumentHelp("Texts wait while inside this local window (default off).", valueName: "HH:MM-HH:MM|off"))
    var quietHours: String?
    @Option(help: ArgumentHelp("Hold email in quiet hours too (default off).", valueName: "on|off")) var quietHoursHoldEmail: String?
    @Option(help: ArgumentHelp("Hold push in quiet hours too (default off).", valueName: "on|off")) var quietHoursHoldPush: String?
    @Option(help: ArgumentHelp("The zone for customers without one of their own (IANA, default UTC).", valueName: "name"))
    var timeZone: String?

    func run() async throws {
        var options: [String: String] = [:]
        options["phone"] = phone
        options["email"] = email
        options["offline-timeout"] = offlineTimeout
        options["push-ack-timeout"] = pushAckTimeout
        options["cooldown"] = cooldown
        options["max-texts-per-day"] = maxTextsPerDay
        options["max-emails-per-day"] = maxEmailsPerDay
        options["quiet-hours"] = quietHours
        options["quiet-hours-hold-email"] = quietHoursHoldEmail
        options["quiet-hours-hold-push"] = quietHoursHoldPush
        options["time-zone"] = timeZone
        let (change, problems) = ChannelSettingsChange.parse(options)
        if !problems.isEmpty {
            FileHandle.standardError.write(Data(problems.map { "error: \($0)\n" }.joined().utf8))
            throw ExitCode.failure
        }
        if change.isEmpty {
            FileHandle.standardError.write(Data("error: nothing to change; see `followup channel set --help`\n".utf8))
            throw ExitCode.failure
        }
        try await Self.report(database) { pool in
            guard try await change.apply(to: channel, on: pool),
                  let settings = try await ChannelSettings.load(channel, on: pool) else {
                throw ChannelSettingsError("there is no channel \(channel)")
            }
            return "Updated.\n" + settings.description
        }
    }

    /// Prints what `body` returns; a refusal (or a value the database refused) becomes
    /// `error: …` and exit code 1, without a usage dump.
    static func report(_ database: DatabaseOptions, _ body: (ConnectionPool) async throws -> String) async throws {
        do {
            print(try await database.withPool(body))
        } catch let error as ChannelSettingsError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        } catch let error as PostgresError where error.sqlState == "23514" || error.sqlState == "42501" {
            // A CHECK the database enforces, or a login without the operator's grants.
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode.failure
        }
    }
}
