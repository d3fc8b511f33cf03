import ArgumentParser
import FollowUp
import Foundation
import Logging
import Postgres

/// `followup mail-in`: one RFC 5322 message on stdin, from an MTA's pipe transport (Postfix
/// `pipe(8)`, Exim). Exit status per sysexits.h, which MTAs understand: 0 accepted, 67
/// (EX_NOUSER) unknown recipient, 65 (EX_DATAERR) not a mail, 75 (EX_TEMPFAIL) try again later.
struct MailInCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail-in",
        abstract: "Take one inbound mail on stdin (a reply, a bounce, an unsubscribe) from an MTA's pipe.",
        discussion: """
            The same code path as POST /webhooks/email/inbound. A reply's new text becomes a customer message \
            in its chat; a bounce marks its delivery; an auto-reply is recorded and ignored. Needs \
            FOLLOWUP_REPLY_SECRET (and FOLLOWUP_REPLY_DOMAIN) as `followup run` has them.

            Exit status (sysexits.h): 0 accepted, 67 unknown recipient, 65 bad message, 75 try later.

            Postfix master.cf (see docs/webhooks.md):
              followup  unix  -  n  n  -  10  pipe
                flags=Rq user=followup argv=/usr/local/bin/followup mail-in --recipient ${recipient}
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The envelope recipient (Postfix: ${recipient}); default: read from Delivered-To, X-Original-To, To, Cc.")
    var recipient: String?
    @Option(help: "Log level for stderr (the MTA usually logs it).") var logLevel: Logger.Level = .notice

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "followup.mail-in")
        var settings = FollowUpSettings()
        let tokens: ReplyTokens
        do {
            try settings.readTwoWay(from: ProcessInfo.processInfo.environment)
            guard let signer = settings.replyTokens else {
                throw FollowUpSettingsError(variable: "FOLLOWUP_REPLY_SECRET", problem: "is missing")
            }
            tokens = signer
        } catch {
            // Misconfigured: the MTA keeps the mail and retries once someone fixes it.
            FileHandle.standardError.write(Data("followup mail-in: \(error)\n".utf8))
            throw ExitCode(75)
        }
        let raw = Array(FileHandle.standardInput.readDataToEndOfFile())
        let pool: ConnectionPool
        do {
            pool = try await database.pool()
        } catch {
            FileHandle.standardError.write(Data("followup mail-in: \(error)\n".utf8))
            throw ExitCode(75)
        }
        do {
            let outcome = try await InboundMail.handle(raw, recipient: recipient, tokens: tokens, on: pool)
            logger.notice("accepted", metadata: ["outcome": "\(outcome)"])
            await pool.close()
        } catch let error as InboundMail.Refusal {
            await pool.close()
            FileHandle.standardError.write(Data("followup mail-in: refused: \(error.reason)\n".utf8))
            throw ExitCode(error.exitCode)
        } catch {
            await pool.close()
            FileHandle.standardError.write(Data("followup mail-in: \(error)\n".utf8))
            throw ExitCode(75)
        }
    }
}
