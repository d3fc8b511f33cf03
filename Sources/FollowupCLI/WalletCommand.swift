import ArgumentParser
import Foundation
import Postgres
import Wallet

/// `followup wallet`: the SMS wallet for an operator, without writing SQL.
struct WalletCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wallet",
        abstract: "A channel's SMS wallet: balance, statement, credits, adjustments, reversals, auto-charge.",
        discussion: """
            Amounts are in dollars (e.g. 10, 0.50, -1.25); the ledger keeps micro-dollars.
            Every change is a transfer with a reason and your name on it, and can be reversed:
              followup wallet balance --channel 42
              followup wallet statement --channel 42 --limit 50
              followup wallet credit --channel 42 --amount 5 --reason "ticket 1234: failed texts" --by alice
              followup wallet credit --channel 42 --amount 10 --promotional --reason "launch promo" --by alice
              followup wallet adjust --channel 42 --amount -2.50 --reason "double top-up" --by alice
              followup wallet reverse --transfer 981 --reason "credited the wrong channel" --by alice
              followup wallet auto-charge show --channel 42
              followup wallet auto-charge set --channel 42 --on --threshold 5 --amount 20 --monthly-cap 100 --customer cus_123
            Finance reads the same ledger through the views in the `finance` schema (docs/finance.md).
            """,
        subcommands: [Balance.self, Statement.self, Credit.self, Adjust.self, Reverse.self, AutoChargeCommand.self])

    /// Opens the pool, runs `body`, closes the pool; wallet errors become a clear message.
    static func withPool(_ database: DatabaseOptions, _ body: (ConnectionPool) async throws -> String) async throws {
        do {
            print(try await database.withPool(body))
        } catch let error as WalletError {
            // A refusal the operator can act on: say why, without a usage dump.
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }

    struct Balance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Available (promotional + paid) and held balances.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The channel id.") var channel: Int64
        func run() async throws {
            try await WalletCommand.withPool(database) { try await WalletConsole.balance(channelID: channel, on: $0) }
        }
    }

    struct Statement: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every transfer that touched the wallet, with the balance after it.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The channel id.") var channel: Int64
        @Option(help: "Show the most recent lines only.") var limit: Int = 100
        func run() async throws {
            try await WalletCommand.withPool(database) { try await WalletConsole.statement(channelID: channel, limit: limit, on: $0) }
        }
    }

    struct Credit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add money to a wallet (paid balance, or promotional credit with --promotional).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The channel id.") var channel: Int64
        @Option(help: "Dollars, e.g. 5 or 0.25.") var amount: String
        @Flag(help: "Credit promotional balance (spent first) instead of paid balance.") var promotional = false
        @Option(help: "Why (finance reads it on the statement).") var reason: String
        @Option(help: "Who is doing this.") var by: String
        @Option(help: "Makes a retry of this command safe: the same key posts once.") var idempotencyKey: String?
        func run() async throws {
            try await WalletCommand.withPool(database) {
                try await WalletConsole.credit(channelID: channel, amount: amount, bucket: promotional ? .promotional : .paid,
                                               reason: reason, by: by, idempotencyKey: idempotencyKey, on: $0)
            }
        }
    }

    struct Adjust: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Correct the paid balance up or down (never below zero).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The channel id.") var channel: Int64
        @Option(parsing: .unconditional, help: "Signed dollars, e.g. -2.50 or 3.") var amount: String
        @Option(help: "Why (finance reads it on the statement).") var reason: String
        @Option(help: "Who is doing this.") var by: String
        @Option(help: "Makes a retry of this command safe: the same key posts once.") var idempotencyKey: String?
        func run() async throws {
            try await WalletCommand.withPool(database) {
                try await WalletConsole.adjust(channelID: channel, amount: amount, reason: reason, by: by,
                                               idempotencyKey: idempotencyKey, on: $0)
            }
        }
    }

    struct Reverse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Undo a credit, adjustment, top-up or monthly credit with the opposite transfer (history is never edited).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The transfer id (see `wallet statement`).") var transfer: Int64
        @Option(help: "Why (finance reads it on the statement).") var reason: String
        @Option(help: "Who is doing this.") var by: String
        func run() async throws {
            try await WalletCommand.withPool(database) {
                try await WalletConsole.reverse(transferID: transfer, reason: reason, by: by, on: $0)
            }
        }
    }

    struct AutoChargeCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "auto-charge", abstract: "The channel's auto-charge rule and its recent top-ups.",
            subcommands: [Show.self, Set.self], defaultSubcommand: Show.self)

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show the rule and the last top-ups.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "The channel id.") var channel: Int64
            func run() async throws {
                try await WalletCommand.withPool(database) { try await WalletConsole.autoCharge(channelID: channel, on: $0) }
            }
        }

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Change the rule; options not given stay as they are.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "The channel id.") var channel: Int64
            @Flag(name: .customLong("on"), help: "Turn auto-charge on.") var on = false
            @Flag(name: .customLong("off"), help: "Turn auto-charge off.") var off = false
            @Option(help: "Top up when the available balance falls below this many dollars.") var threshold: String?
            @Option(help: "Dollars per top-up (whole cents).") var amount: String?
            @Option(help: "At most this many dollars of top-ups per calendar month, or 'none'.") var monthlyCap: String?
            @Option(help: "The payment provider's customer (cus_…, or cus_…/pm_…).") var customer: String?
            func validate() throws {
                if on && off { throw ValidationError("--on and --off together: pick one") }
            }
            func run() async throws {
                try await WalletCommand.withPool(database) {
                    try await WalletConsole.setAutoCharge(channelID: channel, enabled: on ? true : (off ? false : nil),
                                                          threshold: threshold, amount: amount, monthlyCap: monthlyCap,
                                                          paymentCustomer: customer, on: $0)
                }
            }
        }
    }
}
