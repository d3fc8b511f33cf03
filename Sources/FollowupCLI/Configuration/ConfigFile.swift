import Foundation

/// The optional settings file (`--config FILE`): an env-file, one `NAME=value` per line, with the
/// same names as the environment variables — the format systemd's `EnvironmentFile=` and
/// `docker run --env-file` read, so one file serves all three.
///
/// - Blank lines and lines starting with `#` are ignored; `export NAME=value` is accepted.
/// - A value may be wrapped in single or double quotes (kept literally inside; no escapes, no
///   `$VAR` expansion). Unquoted values are trimmed.
/// - A name the catalog does not know, a line without `=`, or a name given twice is a problem,
///   reported with its line number (never with its value: the file holds secrets).
enum ConfigFile {
    struct Parsed {
        var values: [String: String] = [:]
        var problems: [String] = []
    }

    static func read(path: String, known: Set<String>) -> Parsed {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Parsed(problems: ["--config \(path): cannot be read"])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return Parsed(problems: ["--config \(path): is not UTF-8 text"])
        }
        return parse(text, name: path, known: known)
    }

    static func parse(_ text: String, name: String, known: Set<String>) -> Parsed {
        var parsed = Parsed()
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let place = "\(name):\(index + 1)"
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst("export ".count)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                parsed.problems.append("\(place): expected NAME=value")
                continue
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            guard known.contains(key) else {
                parsed.problems.append("\(place): unknown setting \(key.isEmpty ? "(empty name)" : key) (docs/configuration.md lists them all)")
                continue
            }
            guard parsed.values[key] == nil else {
                parsed.problems.append("\(place): \(key) is set twice")
                continue
            }
            parsed.values[key] = value
        }
        return parsed
    }
}
