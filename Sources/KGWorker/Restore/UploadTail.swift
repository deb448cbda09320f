import Foundation
import KGFormat

/// The uploaded file of a pipelined restore (``RestoreJobParams/pipelined``), read while the
/// gateway still appends to it: to its declared `length`, waiting at its current end for more.
/// The wait ends in ``Stalled`` when the upload is gone (its file unlinked: abandoned, expired)
/// or brings nothing for the gate's `stallSeconds` (and the gate gives it up); it asks
/// `checkCancelled` between polls.
///
/// ```swift
/// let tail = UploadTail(path: params.tempFile, length: params.fileBytes, gate: gate) { try reporter.checkCancelled() }
/// try tail.read { chunk in try pipeline.feed(chunk) }
/// ```
struct UploadTail {
    let path: String
    let length: Int
    let gate: UploadGate
    /// Throws to stop the wait (the job was cancelled).
    let checkCancelled: () throws -> Void
    /// Told the bytes read so far each time the read catches up with the upload and waits (and
    /// whether it is the first time).
    var onWait: (_ read: Int, _ first: Bool) throws -> Void = { _, _ in }

    /// The upload stopped before its last byte: the restore gives up (the upload itself stays
    /// for a `--resume`, which queues a new restore when it ends).
    struct Stalled: Error, CustomStringConvertible {
        let description: String
    }

    /// Hands `body` the file's bytes, chunk by chunk, to `length`; returns the bytes read.
    @discardableResult
    func read(chunkSize: Int = FileDescriptorIO.chunkSize, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let fd = try openUpload()
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, chunkSize), alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        var lastGrowth = Date()
        var pause = 0.005
        var waiting = false
        var waited = false
        while total < length {
            let n: Int
            do {
                let room = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, length - total)])
                n = try FileDescriptorIO.read(fd: fd, into: room)
            } catch {
                throw FileReadError(path: path, step: .read, error: error)
            }
            if n > 0 {
                total += n
                lastGrowth = Date()
                pause = 0.005
                waiting = false
                try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                continue
            }
            // At the end of what arrived so far: the gateway appends in steps of about 256 KiB.
            try checkCancelled()
            if !waiting {
                try onWait(total, !waited)
                waiting = true
                waited = true
            }
            var info = stat()
            if fstat(fd, &info) == 0 && info.st_nlink == 0 {
                _ = try gate.giveUp()
                throw Stalled(description: "the upload was abandoned or expired at byte \(total) of \(length), before its end")
            }
            let idle = Date().timeIntervalSince(lastGrowth)
            if idle > gate.stallSeconds {
                guard try gate.giveUp() else {
                    // The gateway accepted the whole upload meanwhile: its last bytes are there.
                    lastGrowth = Date()
                    continue
                }
                throw Stalled(
                    description: "the upload stopped arriving at byte \(total) of \(length) (nothing for \(Int(idle)) s); "
                        + "nothing was changed. `kg admin restore FILE --resume` continues it, and queues a new restore when it ends")
            }
            Thread.sleep(forTimeInterval: pause)
            pause = min(0.1, pause * 2)
        }
        return total
    }

    /// The upload's file; once accepted it has the job's name (and is whole). The gateway renames
    /// it a moment before it records the acceptance: a file missing from both places is asked
    /// for again until the gate's `stallSeconds`.
    private func openUpload() throws -> Int32 {
        let started = Date()
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
            let failure = SystemCallError.current
            guard failure.code == ENOENT else { throw FileReadError(path: path, step: .open, error: failure) }
            if let moved = try gate.accepted() {
                let fd = open(moved, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw FileReadError(path: moved, step: .open, error: .current) }
                return fd
            }
            try checkCancelled()
            guard Date().timeIntervalSince(started) < gate.stallSeconds else { throw FileReadError(path: path, step: .open, error: failure) }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }
}
