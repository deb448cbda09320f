/// Collects findings, keeping at most `cap` of each kind so that a file with
/// a million broken rows yields a readable report (and bounded memory).
///
/// Each finding has a position (``at``, set by the caller: where in the file it
/// was made); ``closed()`` lists them in that order, so findings worked out at
/// the end (``addPlaced(_:_:_:total:kind:)``) sit among those made while reading.
struct FindingLog {
    private(set) var findings: [(at: UInt64, finding: Finding)] = []
    private var perKind: [String: (count: Int, severity: Finding.Severity, category: Finding.Category, firstAt: UInt64, order: Int)] = [:]
    let cap: Int
    /// The position of the findings added next.
    var at: UInt64 = 0

    init(cap: Int = 20) {
        self.cap = cap
    }

    /// Adds a finding. `kind` groups findings for capping and names them in
    /// the "… and N more" line ("instances naming a missing source").
    mutating func add(_ severity: Finding.Severity, _ category: Finding.Category, _ message: String, kind: String? = nil) {
        if let kind {
            if let seen = perKind[kind] {
                perKind[kind] = (seen.count + 1, severity, category, seen.firstAt, seen.order)
                if seen.count >= cap { return }
            } else {
                perKind[kind] = (1, severity, category, at, perKind.count)
            }
        }
        findings.append((at, Finding(severity, category, message)))
    }

    /// Adds the first findings of a kind (at most `cap`, each with its position)
    /// out of `total`, as if each had been added where it was made.
    mutating func addPlaced(
        _ severity: Finding.Severity, _ category: Finding.Category, _ placed: [(at: UInt64, message: String)],
        total: Int, kind: String
    ) {
        guard total > 0, let first = placed.first else { return }
        let shown = placed.prefix(cap)
        perKind[kind] = (total, severity, category, first.at, perKind.count)
        findings += shown.map { ($0.at, Finding(severity, category, $0.message)) }
    }

    var hasErrors: Bool { findings.contains { $0.finding.severity == .error } }

    /// The findings in order, with one "… and N more" line for every capped kind.
    func closed() -> [Finding] {
        var all = findings.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element.finding)
        for (kind, entry) in perKind.sorted(by: { ($0.value.firstAt, $0.value.order) < ($1.value.firstAt, $1.value.order) }) where entry.count > cap {
            all.append(Finding(entry.severity, entry.category, "... and \(entry.count - cap) more \(kind)"))
        }
        return all
    }
}
