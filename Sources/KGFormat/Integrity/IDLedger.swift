#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The integrity checker's per-id facts (a concept defined at record n, an
/// instance naming source s, …), kept exactly in bounded memory: an external sort.
///
/// Facts are appended as entries `(key, kind, seq, a, b)`. The key is the id's
/// full text in a reversible, injective encoding (a namespace byte, then a UUID
/// in canonical lower-case or upper-case form packed into its 16 bytes, or else
/// the UTF-8 bytes as they are), so two keys are equal exactly when the ids are:
/// no hash decides anything. Entries are held in memory up to `budgetBytes`
/// (entries and their sort index); past it, the held entries are sorted and
/// written as one run to a temp file, and memory is reused. ``forEachSorted(_:)``
/// then visits every entry in (key, kind, seq) order — from memory alone when
/// nothing was spilled, else by a k-way merge of the runs — so all the facts of
/// one id arrive together, definitions (kind 0) first.
///
/// The temp file is created in `directory` and unlinked at once: its space
/// belongs to the open descriptor, which the ledger closes when it goes away,
/// so no path (error, crash, kill) leaves a file behind.
final class IDLedger {
    /// One fact, as handed to visitors. `key` is valid during the call only.
    struct Entry {
        let key: UnsafeRawBufferPointer
        let kind: UInt8
        let seq: UInt64
        let a: UInt64
        let b: UInt64

        /// The namespace byte the entry was appended with.
        var namespace: UInt8 { key[0] }
        /// The id, decoded from the key.
        var id: String { IDLedger.decode(key) }
    }

    /// The default memory budget of a check's id facts.
    static let defaultBudgetBytes = 16 << 20
    /// Bytes of an entry besides its key: key length (4), kind (1), seq, a, b (8 each).
    static let fixedBytes = 4 + 1 + 24

    let budgetBytes: Int
    let directory: String
    /// Why the ledger cannot go on (temp storage refused a run); entries are then dropped.
    private(set) var failure: String?
    /// Runs written so far, and their bytes (for tests and measurements).
    var runCount: Int { runs.count }
    private(set) var spilledBytes = 0
    private(set) var entryCount = 0

    private var arena: [UInt8] = []
    private var index: [Ref] = []
    private var fd: Int32 = -1
    private var runs: [(offset: Int, length: Int)] = []
    private var fileEnd = 0

    /// Where an entry starts in `arena`, with the first 8 key bytes (big-endian,
    /// zero-padded) to settle most comparisons without touching the arena.
    struct Ref {
        let prefix: UInt64
        let offset: UInt32
    }

    /// - Parameters:
    ///   - budgetBytes: memory for held entries and their index before a run is spilled (tests use a few bytes: a run per entry).
    ///   - directory: where the (unlinked) spill file goes.
    init(budgetBytes: Int = IDLedger.defaultBudgetBytes, directory: String) {
        self.budgetBytes = max(1, budgetBytes)
        self.directory = directory
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    // MARK: - Appending

    /// Appends one fact about `id` in `namespace`.
    func append(_ namespace: UInt8, _ id: String, kind: UInt8, seq: UInt64, a: UInt64 = 0, b: UInt64 = 0) {
        guard failure == nil else { return }
        var id = id
        id.withUTF8 { utf8 in
            let start = arena.count
            for _ in 0..<4 { arena.append(0) }  // key length, patched below
            arena.append(namespace)
            Self.encode(utf8, into: &arena)
            let keyLength = arena.count - start - 4
            withUnsafeBytes(of: UInt32(keyLength).littleEndian) { raw in
                for k in 0..<4 { arena[start + k] = raw[k] }
            }
            arena.append(kind)
            Self.appendWord(seq, to: &arena)
            Self.appendWord(a, to: &arena)
            Self.appendWord(b, to: &arena)
            let prefix = arena.withUnsafeBytes { Self.prefix(of: UnsafeRawBufferPointer(rebasing: $0[(start + 4)...].prefix(keyLength))) }
            index.append(Ref(prefix: prefix, offset: UInt32(start)))
        }
        entryCount += 1
        if arena.count + index.count * MemoryLayout<Ref>.stride >= budgetBytes || arena.count > Int(UInt32.max) - (1 << 20) {
            spill()
        }
    }

    // MARK: - Visiting

    /// Visits every entry in (key, kind, seq) order; `newKey` is true for the
    /// first entry of each key. Stops early when `body` returns false.
    func forEachSorted(_ body: (Entry, _ newKey: Bool) -> Bool) {
        guard failure == nil else { return }
        if runs.isEmpty {
            sortIndex()
            arena.withUnsafeBytes { raw in
                var previous: UnsafeRawBufferPointer?
                for ref in index {
                    let entry = Self.entry(at: raw.baseAddress! + Int(ref.offset))
                    let newKey = previous.map { !Self.equal($0, entry.key) } ?? true
                    previous = entry.key
                    if !body(entry, newKey) { return }
                }
            }
            return
        }
        spill()
        guard failure == nil else { return }
        // The held entries are all in runs now: give their memory back before the merge's buffers.
        arena = []
        index = []
        merge(body)
    }

    /// Visits every entry once, in no particular order (a scan, no sorting).
    func forEachUnsorted(_ body: (Entry) -> Void) {
        guard failure == nil else { return }
        arena.withUnsafeBytes { raw in
            for ref in index { body(Self.entry(at: raw.baseAddress! + Int(ref.offset))) }
        }
        for run in runs {
            let reader = RunReader(fd: fd, offset: run.offset, length: run.length, bufferBytes: 1 << 20)
            while let pointer = reader.current {
                body(Self.entry(at: pointer))
                reader.advance()
            }
            if let problem = reader.failure { failure = problem }
        }
    }

    // MARK: - Spilling

    private func sortIndex() {
        arena.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            index.sort { x, y in
                if x.prefix != y.prefix { return x.prefix < y.prefix }
                return Self.compare(base + Int(x.offset), base + Int(y.offset)) < 0
            }
        }
    }

    /// Sorts the held entries and writes them as one run; memory is then reused.
    private func spill() {
        guard failure == nil, !index.isEmpty else { return }
        if fd < 0 {
            var template =
                Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast()) + Array("kg-idcheck-XXXXXX".utf8CString)
            fd = mkstemp(&template)
            guard fd >= 0 else {
                failure =
                    "the id checks need temp storage past \(budgetBytes >> 20) MB of memory, and \(directory) cannot take it "
                    + "(\(String(cString: strerror(errno)))); make that folder writable or free space in it"
                return
            }
            unlink(template)  // the descriptor owns the space from now on
        }
        sortIndex()
        let start = fileEnd
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        arena.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            for ref in index {
                let p = base + Int(ref.offset)
                let size = Self.fixedBytes + Int(Self.loadWord32(p))
                out.append(contentsOf: UnsafeRawBufferPointer(start: p, count: size))
                if out.count >= 1 << 20 { write(&out) }
            }
        }
        write(&out)
        guard failure == nil else { return }
        runs.append((start, fileEnd - start))
        spilledBytes += fileEnd - start
        arena.removeAll(keepingCapacity: true)
        index.removeAll(keepingCapacity: true)
    }

    private func write(_ bytes: inout [UInt8]) {
        guard failure == nil else { return }
        do {
            try FileDescriptorIO.writeAll(fd: fd, bytes, at: fileEnd)
        } catch {
            failure = "the id checks could not write to temp storage in \(directory) (\(error.reason)); free space there"
            return
        }
        fileEnd += bytes.count
        bytes.removeAll(keepingCapacity: true)
    }

    // MARK: - Merging

    private func merge(_ body: (Entry, Bool) -> Bool) {
        let perRun = max(256, min(1 << 20, budgetBytes / max(1, runs.count)))
        let readers = runs.map { RunReader(fd: fd, offset: $0.offset, length: $0.length, bufferBytes: perRun) }
        if let problem = readers.lazy.compactMap(\.failure).first {
            failure = problem
            return
        }
        var heap = readers.indices.filter { readers[$0].current != nil }
        func less(_ i: Int, _ j: Int) -> Bool {
            Self.compare(readers[i].current!, readers[j].current!) < 0
        }
        func siftDown(_ start: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1
                if left >= heap.count { return }
                var child = left
                if left + 1 < heap.count && less(heap[left + 1], heap[left]) { child = left + 1 }
                if !less(heap[child], heap[parent]) { return }
                heap.swapAt(child, parent)
                parent = child
            }
        }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        var previous: [UInt8] = []
        var first = true
        while let top = heap.first {
            let reader = readers[top]
            let entry = Self.entry(at: reader.current!)
            let newKey = first || !previous.withUnsafeBytes { Self.equal($0, entry.key) }
            if newKey {
                previous.removeAll(keepingCapacity: true)
                previous.append(contentsOf: entry.key)
            }
            first = false
            if !body(entry, newKey) { return }
            reader.advance()
            if reader.current == nil {
                if let problem = reader.failure {
                    failure = problem
                    return
                }
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            if !heap.isEmpty { siftDown(0) }
        }
    }

    /// Reads one run sequentially through its own buffer (`pread`, so runs share the descriptor).
    final class RunReader {
        private let fd: Int32
        private var offset: Int
        private let end: Int
        private var buffer: UnsafeMutableRawPointer
        private var capacity: Int
        private var start = 0
        private var filled = 0
        /// The current entry, nil at the end of the run.
        private(set) var current: UnsafeRawPointer?
        private(set) var failure: String?

        init(fd: Int32, offset: Int, length: Int, bufferBytes: Int) {
            self.fd = fd
            self.offset = offset
            self.end = offset + length
            self.capacity = bufferBytes
            self.buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferBytes, alignment: 8)
            locate()
        }

        deinit { buffer.deallocate() }

        func advance() {
            guard let current else { return }
            start += IDLedger.fixedBytes + Int(IDLedger.loadWord32(current))
            locate()
        }

        /// Makes `current` point at a whole entry at `start`, reading more as needed.
        private func locate() {
            current = nil
            while true {
                let available = filled - start
                if available >= 4 {
                    let size = IDLedger.fixedBytes + Int(IDLedger.loadWord32(UnsafeRawPointer(buffer + start)))
                    if available >= size {
                        current = UnsafeRawPointer(buffer + start)
                        return
                    }
                    if size > capacity {  // a long id: grow to hold it
                        let grown = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
                        grown.copyMemory(from: buffer + start, byteCount: available)
                        buffer.deallocate()
                        buffer = grown
                        capacity = size
                        start = 0
                        filled = available
                    }
                }
                guard offset < end else { return }
                if start > 0 {
                    memmove(buffer, buffer + start, filled - start)
                    filled -= start
                    start = 0
                }
                let n: Int
                do {
                    n = try FileDescriptorIO.read(
                        fd: fd, into: UnsafeMutableRawBufferPointer(start: buffer + filled, count: min(capacity - filled, end - offset)),
                        at: offset)
                } catch {
                    failure = "the id checks could not read their temp storage back (\(error.reason))"
                    return
                }
                if n == 0 {
                    failure = "the id checks' temp storage ended early"
                    return
                }
                filled += n
                offset += n
            }
        }
    }

    // MARK: - Entries and keys

    static func entry(at p: UnsafeRawPointer) -> Entry {
        let keyLength = Int(loadWord32(p))
        let after = p + 4 + keyLength
        return Entry(
            key: UnsafeRawBufferPointer(start: p + 4, count: keyLength), kind: after.load(as: UInt8.self),
            seq: loadWord(after + 1), a: loadWord(after + 9), b: loadWord(after + 17))
    }

    /// Orders two entries by key bytes (shorter first on a common prefix), kind, then seq.
    static func compare(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer) -> Int {
        let lx = Int(loadWord32(x)), ly = Int(loadWord32(y))
        let c = memcmp(x + 4, y + 4, min(lx, ly))
        if c != 0 { return Int(c) }
        if lx != ly { return lx < ly ? -1 : 1 }
        let kx = (x + 4 + lx).load(as: UInt8.self), ky = (y + 4 + ly).load(as: UInt8.self)
        if kx != ky { return kx < ky ? -1 : 1 }
        let sx = loadWord(x + 5 + lx), sy = loadWord(y + 5 + ly)
        return sx < sy ? -1 : sx == sy ? 0 : 1
    }

    static func equal(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Bool {
        x.count == y.count && memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0
    }

    static func prefix(of key: UnsafeRawBufferPointer) -> UInt64 {
        var value: UInt64 = 0
        for k in 0..<8 { value = value << 8 | UInt64(k < key.count ? key[k] : 0) }
        return value
    }

    @inline(__always) static func loadWord32(_ p: UnsafeRawPointer) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))
    }

    @inline(__always) static func loadWord(_ p: UnsafeRawPointer) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
    }

    @inline(__always) static func appendWord(_ v: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    /// Key tags after the namespace byte.
    private static let rawTag: UInt8 = 0, lowerUUIDTag: UInt8 = 1, upperUUIDTag: UInt8 = 2

    /// Appends the id's key (after the namespace byte): a canonical UUID text
    /// (8-4-4-4-12 hex digits, all lower-case or all upper-case) as its 16 bytes
    /// behind its own tag; any other text as its UTF-8 bytes behind the raw tag.
    /// Decoding gives the text back, so equal keys mean equal ids.
    static func encode(_ utf8: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        if utf8.count == 36, let tag = uuidCase(utf8) {
            out.append(tag)
            var high = true
            var byte: UInt8 = 0
            for c in utf8 where c != UInt8(ascii: "-") {
                let v = hexValue(c)
                if high { byte = v << 4 } else { out.append(byte | v) }
                high.toggle()
            }
            return
        }
        out.append(rawTag)
        out.append(contentsOf: utf8)
    }

    /// The tag of a canonical UUID text in one case, or nil.
    private static func uuidCase(_ utf8: UnsafeBufferPointer<UInt8>) -> UInt8? {
        var lower = false, upper = false
        for (i, c) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): break
            case UInt8(ascii: "a")...UInt8(ascii: "f"): lower = true
            case UInt8(ascii: "A")...UInt8(ascii: "F"): upper = true
            default: return nil
            }
        }
        if lower && upper { return nil }
        return upper ? upperUUIDTag : lowerUUIDTag  // digits only: lower-case by convention
    }

    private static func hexValue(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return c - UInt8(ascii: "A") + 10
        }
    }

    /// The id text of a key (without its namespace byte).
    static func decode(_ key: UnsafeRawBufferPointer) -> String {
        let body = UnsafeRawBufferPointer(rebasing: key[2...])
        switch key[1] {
        case lowerUUIDTag, upperUUIDTag:
            let digits = Array((key[1] == lowerUUIDTag ? "0123456789abcdef" : "0123456789ABCDEF").utf8)
            var text: [UInt8] = []
            for (i, byte) in body.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 { text.append(UInt8(ascii: "-")) }
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 0xF)])
            }
            return String(decoding: text, as: UTF8.self)
        default:
            return String(decoding: body, as: UTF8.self)
        }
    }
}
