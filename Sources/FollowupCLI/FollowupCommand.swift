import ArgumentParser
import Logging

@main
struct FollowupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "followup",
        abstract: "Keeps support conversations alive after the customer walks away.",
        discussion: """
            The chat app writes rows into Postgres (activity, messages, push receipts); `followup run` \
            watches for customers who went offline with answers they have not seen and reaches them: \
            push first, then text (messenger, else SMS/LMS) and email. Postgres is the store and the \
            job queue; run as many pollers as you like.

            Start here:
              followup demo                         see it work, on a Postgres it starts itself
              followup migrate --database-url URL   create or update the schema
              followup config check --config FILE   check the settings (docs/configuration.md)
              followup run --config FILE            the poller
            """,
        version: FollowupVersion.current,
        subcommands: [
            MigrateCommand.self, RunCommand.self, ConfigCommand.self, DemoCommand.self, JobsCommand.self,
            BenchCommand.self,
        ] + ProductCommands.extra
    )
}

/// `--log-level` and `--log-format`, shared by the long-running commands.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format: text (one line per record) or json (one object per line, the same metadata keys).")
    var logFormat: LineLogHandler.Format = .text

    func bootstrap() {
        let level = logLevel
        let format = logFormat
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, format: format, level: level)
        }
    }
}

extension LineLogHandler.Format: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
