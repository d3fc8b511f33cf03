import ArgumentParser
import Foundation
import Outbound
import Providers

/// The exit status for a configuration that cannot work (sysexits.h EX_CONFIG), distinct from
/// usage errors (64) and failures at run time (1).
let exitConfigurationError = ExitCode(78)

extension OperatorConfiguration {
    /// The settings of `run`, from the process environment, `--config` and the database flags.
    init(_ database: DatabaseOptions) {
        self.init(environment: ProcessInfo.processInfo.environment, file: database.configFile,
                  databaseURL: database.databaseURL, preparedStatements: database.preparedStatements)
    }

    /// Checks what only building the providers finds (key files readable and usable).
    mutating func checkProviderKeys() {
        guard isValid, let providers else { return }
        let client = OutboundClient()
        defer { client.shutdown() }
        do {
            _ = try ProviderSet(settings: providers, client: client)
        } catch let error as ProviderSettingsError {
            add(problem: error.description)
        } catch {
            add(problem: "the providers cannot be set up: \(error)")
        }
    }

    /// Prints every problem in one message on stderr (no usage text) and returns the exit status to throw.
    func failure() -> ExitCode {
        FileHandle.standardError.write(Data((report + "\n").utf8))
        return exitConfigurationError
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check the operator's settings.",
        subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate every setting `followup run` needs, listing every problem at once (exit 78 if any).",
            discussion: SettingsCatalog.helpText)

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            var settings = OperatorConfiguration(database)
            settings.checkProviderKeys()
            guard settings.isValid else { throw settings.failure() }
            print("configuration OK\n\(settings.summary)")
        }
    }
}
