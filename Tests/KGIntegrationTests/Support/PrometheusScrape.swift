import Foundation
import KGClient

/// One parsed `/metrics` answer, checked against the Prometheus text format
/// (0.0.4) as it is parsed: every sample belongs to a family announced by a
/// `# TYPE` line before it, names and label names are valid, label values are
/// quoted, values are numbers.
struct PrometheusScrape {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    let text: String
    private(set) var types: [String: String] = [:]
    private(set) var samples: [Sample] = []
    private(set) var problems: [String] = []

    static let namePattern = try! NSRegularExpression(pattern: "^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    static let labelPattern = try! NSRegularExpression(pattern: "^[a-zA-Z_][a-zA-Z0-9_]*$")

    init(text: String) {
        self.text = text
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3])) else {
                    problems.append("bad TYPE line: \(line)")
                    continue
                }
                if types[String(parts[2])] != nil { problems.append("family \(parts[2]) announced twice") }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let sample = Self.parse(String(line)) else {
                problems.append("unparsable sample: \(line)")
                continue
            }
            if !Self.matches(Self.namePattern, sample.name) { problems.append("bad metric name: \(sample.name)") }
            for key in sample.labels.keys where !Self.matches(Self.labelPattern, key) { problems.append("bad label name \(key) in \(line)") }
            if family(of: sample.name) == nil { problems.append("sample before (or without) its # TYPE line: \(line)") }
            samples.append(sample)
        }
    }

    /// The family a sample belongs to (histogram samples carry _bucket/_sum/_count).
    func family(of name: String) -> String? {
        if types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return nil
    }

    /// The value of the sample with exactly these labels (0 when absent: a series not yet made).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.first { $0.name == name && $0.labels == labels }?.value ?? 0
    }

    static func matches(_ regex: NSRegularExpression, _ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// `name{a="x",b="y"} value` with escapes \\ \" \n in values.
    static func parse(_ line: String) -> Sample? {
        var name = ""
        var labels: [String: String] = [:]
        var index = line.startIndex
        while index < line.endIndex, line[index] != "{", line[index] != " " {
            name.append(line[index])
            index = line.index(after: index)
        }
        guard index < line.endIndex else { return nil }
        if line[index] == "{" {
            index = line.index(after: index)
            while index < line.endIndex, line[index] != "}" {
                var key = ""
                while index < line.endIndex, line[index] != "=" {
                    key.append(line[index])
                    index = line.index(after: index)
                }
                guard index < line.endIndex else { return nil }
                index = line.index(after: index)
                guard index < line.endIndex, line[index] == "\"" else { return nil }
                index = line.index(after: index)
                var value = ""
                while index < line.endIndex, line[index] != "\"" {
                    if line[index] == "\\" {
                        index = line.index(after: index)
                        guard index < line.endIndex else { return nil }
                        value.append(line[index] == "n" ? "\n" : line[index])
                    } else {
                        value.append(line[index])
                    }
                    index = line.index(after: index)
                }
                guard index < line.endIndex else { return nil }
                index = line.index(after: index)
                labels[key] = value
                if index < line.endIndex, line[index] == "," { index = line.index(after: index) }
            }
            guard index < line.endIndex else { return nil }
            index = line.index(after: index)
        }
        let rest = line[index...].trimmingCharacters(in: .whitespaces).split(separator: " ")
        guard let first = rest.first else { return nil }
        let text = String(first)
        let value: Double? = text == "+Inf" ? .infinity : text == "-Inf" ? -.infinity : Double(text)
        guard let value else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }
}

extension TestStack {
    /// GET /metrics on gateway `index`, parsed.
    func scrapeMetrics(_ index: Int = 0) throws -> PrometheusScrape {
        let client = HTTPClient(baseURL: "\(scheme)://127.0.0.1:\(gatewayPorts[index])", token: nil, caCertPath: caCertPath)
        let r = try client.request(method: "GET", path: "/metrics")
        guard r.status == 200 else { throw StackError("/metrics answered \(r.status)") }
        guard (r.headers["content-type"] ?? "").hasPrefix("text/plain") else {
            throw StackError("/metrics has content type \(r.headers["content-type"] ?? "none")")
        }
        return PrometheusScrape(text: String(decoding: r.body, as: UTF8.self))
    }
}
