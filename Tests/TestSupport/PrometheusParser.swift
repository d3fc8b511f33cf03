import Foundation

/// `/metrics` read by the Prometheus project's own parser (`prometheus_client`'s
/// `text_string_to_metric_families`, PyPI; scripts/setup.sh installs it), run as a subprocess:
/// what our exporter writes is checked by an independent implementation of the format.
public enum PrometheusParser {
    /// One sample: its name (with `_total`, `_bucket`, … as written), labels and value.
    public struct Sample: Sendable, Decodable, Equatable {
        public var family: String
        public var type: String
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    static let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = []
        for family in text_string_to_metric_families(sys.stdin.read()):
            for s in family.samples:
                out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
        json.dump(out, sys.stdout)
        """

    /// Every sample of `text`; throws with the parser's message when the text is not valid.
    public static func parse(_ text: String) throws -> [Sample] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ParseError(description: "prometheus_client rejected /metrics: \(problem)")
        }
        return try JSONDecoder().decode([Sample].self, from: data)
    }
}

extension Array where Element == PrometheusParser.Sample {
    /// The sum of the samples named `name` whose labels include `labels`.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = filter { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    public var families: Set<String> { Set(map(\.family)) }
}
