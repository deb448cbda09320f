import Foundation
import Hummingbird
import KGFormat
import NIOCore
import NIOPosix

/// Receives the JSON body of `POST /admin/stitch` as it arrives: each chunk is written
/// to `<path>.partial` and read by a ``StitchRequestReader`` on the same pass (on NIO's
/// thread pool), which checks every reference as it completes, holding one at a time.
/// Memory stays flat whatever the size: one write buffer and one reference. On any
/// failure — malformed JSON, a bad reference, the size limit, a client gone — the file
/// is removed; when the body holds no reference it is removed too (nothing to store).
/// Otherwise the caller owns the complete `.partial` and renames it to `path` once
/// the job row that owns it exists (``UploadReceiver/publish(_:)``).
struct StitchBodyReceiver {
    let path: String
    let maxBytes: Int

    struct Received {
        let options: StitchRequestReader.Options
        /// Whether `<path>.partial` holds the body (it has references).
        let stored: Bool
        let bytes: Int
    }

    func receive(_ body: RequestBody) async throws -> Received {
        let partial = path + ".partial"
        let opened = try await FileCalls.open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard opened.fd >= 0 else {
            throw APIError(.internalServerError, "cannot store the stitch request", detail: opened.error)
        }
        let state = State(fd: opened.fd)
        do {
            let received = try await receive(body, state: state)
            await FileCalls.close(opened.fd)
            if !received.stored { await FileCalls.unlink(partial) }
            return received
        } catch {
            await FileCalls.close(opened.fd)
            await FileCalls.unlink(partial)
            if let error = error as? StitchRequestError {
                throw APIError.badRequest("the stitch request is not valid: \(error.message)", detail: error.field ?? Self.format)
            }
            throw error
        }
    }

    /// The expected body, for messages.
    static let format =
        "{\"references\"?: [{\"concept_id\", \"label\"?, \"embedding\"?}], \"threshold\"?, \"dry_run\"?, "
        + "\"checkpoint\"?, \"keep_checkpoint\"?, \"no_wait\"?}"

    private func receive(_ body: RequestBody, state: State) async throws -> Received {
        var received = 0
        var touched = Date()
        for try await buffer in body {
            received += buffer.readableBytes
            if received > maxBytes {
                throw APIError.tooLarge("the stitch request", max: maxBytes, setting: "max_stitch_bytes")
            }
            if try await NIOThreadPool.singleton.runIfActive({ try state.consume(buffer) }) {
                touched = Date()
            } else if Date().timeIntervalSince(touched) >= 10 {
                touched = Date()
                await FileCalls.touch(state.fd)  // the janitor's lease on a `.partial`
            }
        }
        if received == 0 {  // no body: every option at its default, no references
            return Received(options: StitchRequestReader.Options(), stored: false, bytes: 0)
        }
        let options = try await NIOThreadPool.singleton.runIfActive { try state.finish() }
        return Received(options: options, stored: options.references > 0, bytes: received)
    }

    /// The reader and the write buffer. Used by one work item at a time (each awaited
    /// before the next), so never concurrently.
    private final class State: @unchecked Sendable {
        let fd: Int32
        let reader = StitchRequestReader { _ in }  // checked here; the worker reads them from the file
        var pending: [UInt8] = []

        init(fd: Int32) { self.fd = fd }

        /// Reads and buffers one chunk, writing past 1 MiB; true when it wrote.
        func consume(_ buffer: ByteBuffer) throws -> Bool {
            try buffer.withUnsafeReadableBytes { chunk in
                try reader.feed(chunk)
                pending.append(contentsOf: chunk)
            }
            guard pending.count >= 1 << 20 else { return false }
            try flush()
            return true
        }

        func finish() throws -> StitchRequestReader.Options {
            let options = try reader.finish()
            try flush()
            return options
        }

        private func flush() throws {
            defer { pending.removeAll(keepingCapacity: true) }
            do {
                try FileDescriptorIO.writeAll(fd: fd, pending)
            } catch {
                throw APIError(.init(code: 507), "temp storage cannot take the stitch request", detail: error.reason)
            }
        }
    }
}
