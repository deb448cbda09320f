/// Collects findings, keeping at most `cap` of each kind so that a file with
/// a million broken rows yields a readable report (and bounded memory).
struct FindingLog {
    private(set) var findings: [Finding] = []
    private var perKind: [String: (count: Int, severity: Finding.Severity, category: Finding.Category)] = [:]
    private var kindOrder: [String] = []
    let cap: Int

    init(cap: Int = 20) {
        self.cap = cap
    }

    /// Adds a finding. `kind` groups findings for capping and names them in
    /// the "… and N more" line ("instances naming a missing source").
    mutating func add(_ severity: Finding.Severity, _ category: Finding.Category, _ message: String, kind: String? = nil) {
        if let kind {
            if let seen = perKind[kind] {
                perKind[kind] = (seen.count + 1, severity, category)
                if seen.count >= cap { return }
            } else {
                perKind[kind] = (1, severity, category)
                kindOrder.append(kind)
            }
        }
        findings.append(Finding(severity, category, message))
    }

    var hasErrors: Bool { findings.contains { $0.severity == .error } }

    /// The findings, with one "… and N more" line for every capped kind.
    func closed() -> [Finding] {
        var all = findings
        for kind in kindOrder {
            guard let entry = perKind[kind], entry.count > cap else { continue }
            all.append(Finding(entry.severity, entry.category, "... and \(entry.count - cap) more \(kind)"))
        }
        return all
    }
}
