import CCurl

/// libcurl's process-wide state.
///
/// `curl_global_init` is itself not thread-safe and must run once before any
/// easy handle exists; a Swift static `let` is initialised exactly once, lazily
/// and thread-safely, which is precisely that guarantee.
enum CurlGlobal {
    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK

    static func ensureInitialized() throws(HTTPClientError) {
        guard initialized else {
            throw .invalidRequest("libcurl could not be initialised (curl_global_init failed)")
        }
    }
}
