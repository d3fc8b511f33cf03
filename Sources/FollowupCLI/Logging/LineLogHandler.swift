import Foundation
import Logging

/// The log handler of the long-running commands: one record per line on stderr, whatever the
/// message holds (a multi-line error stays one record), as text or JSON (`--log-format`).
///
/// - text: `2026-11-29T12:00:00.123Z info followup: message key=value key2=value2`, newlines and
///   other control characters written as `\n`, `\t`, `\u{…}`.
/// - json: one object per line, `{"ts":…,"level":…,"label":…,"message":…}` plus every metadata key
///   at the top level under its own name (a key that collides with those four gets a `meta_`
///   prefix), values as strings (nested metadata as its text).
///
/// What goes in is the caller's business: the product logs no phone numbers, addresses, bodies or
/// secrets at `info` (README, "Logs").
struct LineLogHandler: LogHandler {
    enum Format: String, CaseIterable, Sendable { case text, json }

    let label: String
    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, format: Format, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        var merged = self.metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        let timestamp = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        let text: String
        switch format {
        case .text: text = Self.textLine(timestamp, level, label, message.description, merged)
        case .json: text = Self.jsonLine(timestamp, level, label, message.description, merged)
        }
        LineWriter.shared.write(text + "\n")
    }

    static func textLine(_ timestamp: String, _ level: Logger.Level, _ label: String, _ message: String, _ metadata: Logger.Metadata) -> String {
        var line = "\(timestamp) \(level) \(label): \(escapeControls(message))"
        for key in metadata.keys.sorted() {
            line += " \(escapeControls(key))=\(escapeControls(metadata[key]!.description))"
        }
        return line
    }

    static func jsonLine(_ timestamp: String, _ level: Logger.Level, _ label: String, _ message: String, _ metadata: Logger.Metadata) -> String {
        let reserved: Set<String> = ["ts", "level", "label", "message"]
        var fields: [(String, String)] = [("ts", timestamp), ("level", level.rawValue), ("label", label), ("message", message)]
        for key in metadata.keys.sorted() {
            fields.append((reserved.contains(key) ? "meta_" + key : key, metadata[key]!.description))
        }
        return "{" + fields.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
    }

    /// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Text format: a record never spans lines.
    static func escapeControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// One `write(2)` per record under a lock, so records from many tasks never interleave.
final class LineWriter: Sendable {
    static let shared = LineWriter()
    private let lock = NSLock()

    func write(_ text: String) {
        lock.withLock {
            var bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { buffer in
                    Foundation.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                }
                if written <= 0 { break }
                offset += written
            }
        }
    }
}
