import CLibPQ
import Logging

/// Turning libpq's results into `Rows`, `PostgresError`s and log records.
extension Connection {
    static func rows(of result: OpaquePointer) -> Rows {
        let fieldCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [String] = []
        columns.reserveCapacity(fieldCount)
        for column in 0..<fieldCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
        }
        var values: [[String?]] = []
        values.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var rowValues: [String?] = []
            rowValues.reserveCapacity(fieldCount)
            for column in 0..<fieldCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    rowValues.append(nil)
                } else {
                    rowValues.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            values.append(rowValues)
        }
        let tag = String(cString: PQcmdTuples(result))
        return Rows(columns: columns, values: values, affected: Int(tag) ?? rowCount)
    }

    /// libpq's last error, as `.connectionLost` (the connection is marked unusable if it broke).
    func connectionLost(query: String? = nil) -> PostgresError {
        markBrokenIfBad()
        return PostgresError(code: .connectionLost, message: String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines, query: query)
    }

    private func markBrokenIfBad() {
        if PQstatus(conn) != CONNECTION_OK { lock.withLock { machine.markBroken() } }
    }

    func serverError(_ result: OpaquePointer, query: String?) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(followup_pg_diag_sqlstate())
        let primary = field(followup_pg_diag_message_primary())
            ?? String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines
        markBrokenIfBad()
        let broken = PQstatus(conn) != CONNECTION_OK
        let cancelled = lock.withLock { machine.cancelRequested } && sqlState == "57014"
        let code: PostgresError.Code = cancelled ? .cancelled : (broken ? .connectionLost : .server)
        var error = PostgresError(code: code, message: PostgresError.redact(primary, sqlState: sqlState), sqlState: sqlState, query: query)
        error.detail = field(followup_pg_diag_message_detail())
        error.hint = field(followup_pg_diag_message_hint())
        error.constraint = field(followup_pg_diag_constraint_name())
        error.table = field(followup_pg_diag_table_name())
        error.column = field(followup_pg_diag_column_name())
        return error
    }

    /// One server notice as one log record: its severity mapped to a level, its SQLSTATE, and the
    /// primary message on one line (details and hints, which may quote data, stay out).
    func logNotice(_ result: OpaquePointer) {
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let severity = field(UInt8(ascii: "V")) ?? field(UInt8(ascii: "S")) ?? "NOTICE"
        let level: Logger.Level = switch severity {
        case "WARNING": .warning
        case "NOTICE", "INFO": .notice
        default: .debug  // DEBUG, LOG
        }
        let message = (field(UInt8(ascii: "M")) ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
        logger.log(level: level, "database notice", metadata: [
            "severity": "\(severity)", "sqlstate": "\(field(UInt8(ascii: "C")) ?? "")", "message": "\(message)",
        ])
    }
}

extension PostgresError {
    /// What to do behind a transaction-mode pooler, for the errors that find one.
    public static let sessionPoolerAdvice =
        "a transaction-mode connection pooler (PgBouncer) is in front of Postgres: run followup with --no-prepared-statements (FOLLOWUP_NO_PREPARED_STATEMENTS=1; the library's PostgresConfiguration.preparedStatements = false)"

    /// This session's server state is not what it prepared (a statement it prepared is gone, or
    /// one it is preparing already exists): the server session is shared with other clients.
    static func sessionPooler(sqlState: String, query: String?) -> PostgresError {
        PostgresError(code: .sessionPooler, message: "prepared statements do not survive between transactions (SQLSTATE \(sqlState)): " + sessionPoolerAdvice,
                      sqlState: sqlState, query: query)
    }
}
