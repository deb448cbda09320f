import CCurl

/// One libcurl easy handle with the memory that must outlive `curl_easy_perform`
/// (header list, error buffer). Confined to the thread that makes the call.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init() throws(HTTPClientError) {
        try CurlGlobal.ensureInitialized()
        guard let handle = curl_easy_init() else {
            throw .invalidRequest("libcurl could not create a transfer handle (out of memory?)")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
    }

    deinit {
        curl_easy_cleanup(handle)
        if let headerList { curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
    }

    func set(_ option: CURLoption, _ value: Int) throws(HTTPClientError) {
        try check(kg_curl_setopt_long(handle, option, value), option)
    }

    func set(_ option: CURLoption, offset value: Int) throws(HTTPClientError) {
        try check(kg_curl_setopt_offt(handle, option, value), option)
    }

    /// libcurl copies string options (all but CURLOPT_POSTFIELDS, which is never used here).
    func set(_ option: CURLoption, _ value: String) throws(HTTPClientError) {
        try check(kg_curl_setopt_string(handle, option, value), option)
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws(HTTPClientError) {
        try check(kg_curl_setopt_pointer(handle, option, value), option)
    }

    /// Replaces the request header list; each entry is a full "Name: value" line.
    func setHeaders(_ lines: [String]) throws(HTTPClientError) {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for line in lines {
            guard let appended = curl_slist_append(list, line) else {
                if let list { curl_slist_free_all(list) }
                throw .invalidRequest("could not build the request headers (out of memory?)")
            }
            list = appended
        }
        let result = kg_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        if let headerList { curl_slist_free_all(headerList) }
        headerList = list
        try check(result, CURLOPT_HTTPHEADER)
    }

    /// Installs the shared C callbacks with `context` as their user data.
    func installCallbacks(context: UnsafeMutableRawPointer) throws(HTTPClientError) {
        try check(kg_curl_setopt_header(handle, curlHeaderCallback), CURLOPT_HEADERFUNCTION)
        try set(CURLOPT_HEADERDATA, pointer: context)
        try check(kg_curl_setopt_write(handle, curlWriteCallback), CURLOPT_WRITEFUNCTION)
        try set(CURLOPT_WRITEDATA, pointer: context)
        try check(kg_curl_setopt_xferinfo(handle, curlProgressCallback), CURLOPT_XFERINFOFUNCTION)
        try set(CURLOPT_XFERINFODATA, pointer: context)
        // The progress callback is also where cancellation is noticed.
        try set(CURLOPT_NOPROGRESS, 0)
    }

    func perform() -> CURLcode {
        errorBuffer[0] = 0
        return curl_easy_perform(handle)
    }

    /// libcurl's detailed message for the last failure, else its generic one.
    func errorDetail(_ code: CURLcode) -> String {
        let detail = String(cString: errorBuffer)
        if !detail.isEmpty { return detail }
        return String(cString: curl_easy_strerror(code))
    }

    var osErrno: Int {
        var value = 0
        _ = kg_curl_getinfo_long(handle, CURLINFO_OS_ERRNO, &value)
        return value
    }

    /// Whether a TCP connection to the server was ever established.
    var connected: Bool {
        var micros = 0
        _ = kg_curl_getinfo_offt(handle, CURLINFO_CONNECT_TIME_T, &micros)
        return micros > 0
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws(HTTPClientError) {
        guard code == CURLE_OK else {
            throw .invalidRequest("libcurl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))")
        }
    }
}
