import Foundation

/// An independent DKIM verdict: scripts/dkim_verify.py runs dkimpy (PyPI `dkimpy`, which
/// scripts/setup.sh installs) over messages, resolving the one DNS record given.
public enum DKIMCheck {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/dkim_verify.py").path

    /// Each message's verdict: `pass`, or `fail <why>`.
    public static func verdicts(_ messages: [String: [UInt8]], recordName: String, recordValue: String) throws -> [String: String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dkim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, bytes) in messages {
            try Data(bytes).write(to: directory.appendingPathComponent("\(name).eml"))
            try Data("\(recordName)\n\(recordValue)".utf8).write(to: directory.appendingPathComponent("\(name).txt"))
        }
        // One process per call; callers run serially (Foundation's Process and parallel children do not mix well).
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, directory.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CheckError(description: "dkim_verify.py exited with \(process.terminationStatus) (is dkimpy installed? ./scripts/setup.sh installs it)")
        }
        var verdicts: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { verdicts[String(parts[0])] = String(parts[1]) }
        }
        return verdicts
    }

    public struct CheckError: Error, CustomStringConvertible {
        public var description: String
    }
}
