import CCurl

/// A multipart/form-data body built with libcurl's mime API. File parts are
/// read from disk while sending, so memory does not grow with the file size.
final class CurlMime {
    let pointer: OpaquePointer

    init(easy: CurlEasy) throws(HTTPClientError) {
        guard let mime = curl_mime_init(easy.handle) else {
            throw .invalidRequest("could not build the multipart body (out of memory?)")
        }
        pointer = mime
    }

    deinit {
        curl_mime_free(pointer)
    }

    func addField(name: String, value: String) throws(HTTPClientError) {
        let part = try addPart(name: name)
        // An explicit length: the value is copied and may contain any byte.
        try check(curl_mime_data(part, value, value.utf8.count), "field \(name)")
    }

    func addFile(name: String, path: String, fileName: String, contentType: String) throws(HTTPClientError) {
        let part = try addPart(name: name)
        try check(curl_mime_filedata(part, path), "file \(path)")
        try check(curl_mime_filename(part, fileName), "file name \(fileName)")
        try check(curl_mime_type(part, contentType), "content type \(contentType)")
    }

    /// A file part whose bytes come from `source` while sending (nothing on disk):
    /// `size` bytes exactly, read on demand.
    func addStream(name: String, source: UploadSource, fileName: String, contentType: String) throws(HTTPClientError) {
        let part = try addPart(name: name)
        let context = Unmanaged.passRetained(source).toOpaque()
        let read: curl_read_callback = { buffer, size, count, context in
            guard let buffer, let context else { return Int(CURL_READFUNC_ABORT) }
            let source = Unmanaged<UploadSource>.fromOpaque(context).takeUnretainedValue()
            return source.fill(UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
        }
        let free: curl_free_callback = { context in
            if let context { Unmanaged<UploadSource>.fromOpaque(context).release() }
        }
        let code = curl_mime_data_cb(part, curl_off_t(source.size), read, nil, free, context)
        if code != CURLE_OK { Unmanaged<UploadSource>.fromOpaque(context).release() }
        try check(code, "streamed file \(fileName)")
        try check(curl_mime_filename(part, fileName), "file name \(fileName)")
        try check(curl_mime_type(part, contentType), "content type \(contentType)")
    }

    private func addPart(name: String) throws(HTTPClientError) -> OpaquePointer {
        guard let part = curl_mime_addpart(pointer) else {
            throw .invalidRequest("could not build the multipart body (out of memory?)")
        }
        try check(curl_mime_name(part, name), "part name \(name)")
        return part
    }

    private func check(_ code: CURLcode, _ what: String) throws(HTTPClientError) {
        guard code == CURLE_OK else {
            throw .invalidRequest("could not add \(what) to the upload: \(String(cString: curl_easy_strerror(code)))")
        }
    }
}
