extension IntegrityReport {
    /// The report as `kg admin verify --json` prints it (CONTRACT.md):
    /// `{"valid", "errors": [{"category", "message"}], "warnings", "info",
    /// "external_deps", "statistics"}`, then the extra keys
    /// `external_references` (`{"instances", "relationships"}`: the records
    /// naming the external dependencies; after the contract's keys so their
    /// order stays as the contract lists them), `schema_version`,
    /// `backup_type`, `ontology`, `version`, `timestamp`, `counts`, `producer`.
    /// `statistics` is the file's own value; `{}` when the file has none, so
    /// scripts can always index into it.
    public func jsonBytes() -> [UInt8] {
        var out: [UInt8] = []
        jsonValue.write(to: &out)
        return out
    }

    /// The same as ``jsonBytes()``, as a string.
    public func jsonText() -> String {
        String(decoding: jsonBytes(), as: UTF8.self)
    }

    /// The report as a JSON value, keys in contract order.
    public var jsonValue: JSONValue {
        func list(_ findings: [Finding]) -> JSONValue {
            .array(findings.map { ["category": .string($0.category.rawValue), "message": .string($0.message)] })
        }
        func optional(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }

        let producerValue: JSONValue = producer.map { ["name": optional($0.name), "version": optional($0.version)] } ?? .null
        return .object([
            (key: "valid", value: .bool(valid)),
            (key: "errors", value: list(errors)),
            (key: "warnings", value: list(warnings)),
            (key: "info", value: list(info)),
            (key: "external_deps", value: .integer(externalDeps)),
            (key: "statistics", value: statistics ?? .object([])),
            (
                key: "external_references",
                value: .object(
                    [
                        (key: "instances", value: .integer(externalReferences.instances)),
                        (key: "relationships", value: .integer(externalReferences.relationships)),
                    ] + (externalReferences.relationshipsAtMost.map { [(key: "relationships_at_most", value: JSONValue.integer($0))] } ?? []))
            ),
            (key: "schema_version", value: schemaVersion.map(JSONValue.integer) ?? .null),
            (key: "backup_type", value: optional(backupType)),
            (key: "ontology", value: optional(ontology)),
            (key: "version", value: optional(version)),
            (key: "timestamp", value: optional(timestamp)),
            (key: "counts", value: .object(orderedCounts.map { (key: $0.name, value: .integer($0.count)) })),
            (key: "producer", value: producerValue),
        ])
    }

    /// Counts in the order of the format (vocabulary first, as restored), then
    /// any other sections by name.
    var orderedCounts: [(name: String, count: Int)] {
        let known = ["vocabulary", "concepts", "sources", "instances", "relationships"]
        let first = known.compactMap { name in counts[name].map { (name: name, count: $0) } }
        let rest = counts.keys.filter { !known.contains($0) }.sorted().map { (name: $0, count: counts[$0]!) }
        return first + rest
    }
}
