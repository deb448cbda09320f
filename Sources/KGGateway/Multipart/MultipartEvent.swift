/// What `MultipartStreamParser` reports while it reads a body, in order: for every part one
/// `.partStart`, any number of `.partData`, then `.partEnd`.
///
/// ```swift
/// try parser.feed(chunk) { event in
///     switch event {
///     case .partStart(let name, let filename, _): print("part", name, filename ?? "-")
///     case .partData(let bytes): try output.write(bytes)   // copy now: `bytes` dies with the call
///     case .partEnd: print("end of part")
///     }
/// }
/// ```
enum MultipartEvent {
    /// A part begins. `filename` is what the client sent, never a safe path.
    case partStart(name: String, filename: String?, contentType: String?)
    /// Body bytes of the current part. The buffer is valid only during the handler call.
    case partData(UnsafeRawBufferPointer)
    /// The current part is complete.
    case partEnd
}
