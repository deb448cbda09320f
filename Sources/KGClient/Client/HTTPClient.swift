import CCurl
import Foundation

/// A blocking HTTP client for the kg gateway, over libcurl's easy interface.
///
/// Every call blocks its thread until the transfer ends: run it on a thread of
/// its own, never on Swift's cooperative pool. A client holds only settings,
/// so one instance may serve several threads; each call gets its own handle.
///
/// ```swift
/// let client = HTTPClient(baseURL: "http://127.0.0.1:8080", token: token)
/// let jobs = try client.request(method: "GET", path: "/jobs").requireSuccess()
/// let result = try client.download(
///     method: "POST", path: "/admin/backup", json: body,
///     onResponseHead: { _, headers in name = headers["content-disposition"].flatMap(parseContentDispositionFilename) },
///     onData: { chunk in try output.write(contentsOf: chunk) },
///     onProgress: { received, expected in bar.update(received, expected) })
/// ```
public final class HTTPClient: Sendable {
    public static let defaultUserAgent = "kg/0.1.0"

    /// The gateway's base URL, e.g. "http://127.0.0.1:8080"; paths are appended to it.
    public let baseURL: String
    public let caCertPath: String?
    public let userAgent: String
    /// Seconds to wait for the TCP (and TLS) connection.
    public let connectTimeout: Double
    /// Total time limit of `request(...)` calls, nil for none. Streams
    /// (download, upload, events) never have a total limit.
    public let requestTimeout: Double?
    public let lowSpeedLimit: LowSpeedLimit?
    /// Bandwidth caps in bytes per second (nil: none), as restic's `--limit-download`/`--limit-upload`.
    public let maxReceiveRate: Int?
    public let maxSendRate: Int?
    private let token: String?
    let cancellation = CancellationFlag()

    public init(
        baseURL: String,
        token: String?,
        caCertPath: String? = nil,
        userAgent: String = HTTPClient.defaultUserAgent,
        connectTimeout: Double = 10,
        requestTimeout: Double? = 300,
        lowSpeedLimit: LowSpeedLimit? = nil,
        maxReceiveRate: Int? = nil,
        maxSendRate: Int? = nil
    ) {
        self.maxReceiveRate = maxReceiveRate
        self.maxSendRate = maxSendRate
        self.baseURL = baseURL
        self.token = token
        self.caCertPath = caCertPath
        self.userAgent = userAgent
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.lowSpeedLimit = lowSpeedLimit
    }

    /// Aborts the transfers in flight on this client, from any thread; they
    /// throw `HTTPClientError.cancelled` within about a second. Sticky: later
    /// calls on this client throw `.cancelled` at once.
    public func cancel() {
        cancellation.cancel()
    }

    /// The full URL for `path` ("/jobs" → "http://host:port/jobs"). `path`
    /// (and its query) must already be percent-encoded.
    func url(for path: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return path.hasPrefix("/") ? base + path : base + "/" + path
    }

    /// A handle with everything common to all calls set: URL, timeouts, TLS,
    /// and the headers (caller's headers override defaults, case-insensitively).
    func makeTransfer(
        path: String,
        defaultHeaders: [(String, String)],
        headers: [String: String],
        totalTimeout: Double?
    ) throws(HTTPClientError) -> CurlEasy {
        if cancellation.isCancelled { throw .cancelled }
        let easy = try CurlEasy()
        try easy.set(CURLOPT_URL, url(for: path))
        // This libcurl also speaks ftp, file, smtp…; the gateway is HTTP only.
        try easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        try easy.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        // Several threads may use libcurl; signals must not be used for timeouts.
        try easy.set(CURLOPT_NOSIGNAL, 1)
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        if let totalTimeout { try easy.set(CURLOPT_TIMEOUT_MS, Int(totalTimeout * 1000)) }
        if let lowSpeedLimit {
            try easy.set(CURLOPT_LOW_SPEED_LIMIT, lowSpeedLimit.bytesPerSecond)
            try easy.set(CURLOPT_LOW_SPEED_TIME, lowSpeedLimit.seconds)
        }
        if let maxReceiveRate { try easy.set(CURLOPT_MAX_RECV_SPEED_LARGE, offset: maxReceiveRate) }
        if let maxSendRate { try easy.set(CURLOPT_MAX_SEND_SPEED_LARGE, offset: maxSendRate) }
        // Long event streams sit idle between job updates.
        try easy.set(CURLOPT_TCP_KEEPALIVE, 1)
        try easy.set(CURLOPT_USERAGENT, userAgent)
        try easy.set(CURLOPT_BUFFERSIZE, 128 * 1024)
        // Always verify the gateway's certificate and host name (libcurl's defaults, set
        // explicitly so that no build or environment can turn them off).
        try easy.set(CURLOPT_SSL_VERIFYPEER, 1)
        try easy.set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caCertPath { try easy.set(CURLOPT_CAINFO, caCertPath) }

        var lines: [(String, String)] = []
        if let token { lines.append(("Authorization", "Bearer \(token)")) }
        lines.append(contentsOf: defaultHeaders)
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            lines.removeAll { $0.0.lowercased() == name.lowercased() }
            lines.append((name, value))
        }
        var rendered: [String] = []
        for (name, value) in lines {
            // Scalars, not Characters: "\r\n" is one Character, equal to neither "\r" nor "\n".
            let forbidden = (name + value).unicodeScalars.contains { $0 == "\r" || $0 == "\n" || $0 == "\0" }
            guard !name.isEmpty, !forbidden else {
                throw .invalidRequest("header \(name.debugDescription) has a line break or NUL in it")
            }
            rendered.append("\(name): \(value)")
        }
        // The gateway never answers `Expect: 100-continue`; without this libcurl
        // would wait a second before every large body.
        if !lines.contains(where: { $0.0.lowercased() == "expect" }) { rendered.append("Expect:") }
        try easy.setHeaders(rendered)
        return easy
    }

    /// Sets the method and, when given, a small in-memory body (copied by libcurl).
    func setMethod(_ method: String, body: Data?, on easy: CurlEasy) throws(HTTPClientError) {
        let method = method.uppercased()
        guard !method.isEmpty, method.allSatisfy({ $0.isLetter && $0.isASCII }) else {
            throw .invalidRequest("\(method.debugDescription) is not an HTTP method")
        }
        switch (method, body) {
        case ("GET", nil):
            try easy.set(CURLOPT_HTTPGET, 1)
        case ("HEAD", nil):
            try easy.set(CURLOPT_NOBODY, 1)
        case (_, nil) where method != "POST":
            try easy.set(CURLOPT_CUSTOMREQUEST, method)
        default:
            let body = body ?? Data()
            try easy.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: body.count)
            if body.isEmpty {
                try easy.set(CURLOPT_COPYPOSTFIELDS, "")
            } else {
                // COPYPOSTFIELDS copies POSTFIELDSIZE bytes right away: the pointer need not outlive the call.
                let code = body.withUnsafeBytes { bytes in
                    kg_curl_setopt_pointer(easy.handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                }
                guard code == CURLE_OK else {
                    throw .invalidRequest("could not attach the request body: \(String(cString: curl_easy_strerror(code)))")
                }
            }
            if method != "POST" { try easy.set(CURLOPT_CUSTOMREQUEST, method) }
        }
    }

    /// Runs the transfer, mapping libcurl's outcome to `HTTPClientError` (or
    /// rethrowing the error a handler threw). Returns normally when a handler
    /// asked to stop.
    func perform(_ easy: CurlEasy, _ state: TransferState) throws {
        let context = Unmanaged.passUnretained(state).toOpaque()
        try easy.installCallbacks(context: context)
        let code = withExtendedLifetime(state) { easy.perform() }
        if code == CURLE_OK { return }
        if let error = state.handlerError { throw error }
        if state.stoppedByHandler { return }
        if state.cancelled || (code == CURLE_ABORTED_BY_CALLBACK && cancellation.isCancelled) { throw HTTPClientError.cancelled }
        // A server may refuse a request (401, 413…) before reading the whole
        // body and close the connection; its answer matters more than the broken send.
        if state.headComplete, !(200..<300).contains(state.status), Self.isInterruption(code) { return }
        throw failure(code, easy: easy, state: state)
    }

    /// Codes meaning the connection broke mid-transfer.
    private static func isInterruption(_ code: CURLcode) -> Bool {
        [
            CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING,
            CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_WEIRD_SERVER_REPLY,
        ].contains(code)
    }

    private func failure(_ code: CURLcode, easy: CurlEasy, state: TransferState) -> HTTPClientError {
        let detail = easy.errorDetail(code)
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST:
            let host = URLComponents(string: baseURL)?.host ?? baseURL
            return .unreachable(url: baseURL, message: "cannot resolve host name \(host.debugDescription)")
        case CURLE_COULDNT_RESOLVE_PROXY:
            return .unreachable(url: baseURL, message: "cannot resolve the proxy (\(detail))")
        case CURLE_COULDNT_CONNECT:
            let errno = easy.osErrno
            let reason = errno != 0 ? String(cString: strerror(Int32(errno))).lowercased() : detail
            return .unreachable(url: baseURL, message: reason)
        case CURLE_OPERATION_TIMEDOUT:
            if !easy.connected {
                return .unreachable(url: baseURL, message: "no connection within \(Self.seconds(connectTimeout))")
            }
            if !state.headComplete {
                return .transferInterrupted("the gateway at \(baseURL) accepted the connection but did not answer in time (\(detail))")
            }
            return .transferInterrupted("the transfer stalled or took too long (\(detail))")
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return .invalidRequest("\(url(for: "").debugDescription) is not a usable http(s) URL (\(detail)) — check api_url")
        case CURLE_READ_ERROR, CURLE_FILE_COULDNT_READ_FILE:
            return .invalidRequest("could not read the file being uploaded: \(detail)")
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_INITFAILED,
            CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_USE_SSL_FAILED, CURLE_SSL_CLIENTCERT:
            return .tls(detail)
        case CURLE_PARTIAL_FILE:
            return .transferInterrupted("the gateway closed the connection before the response was complete (\(detail))")
        case CURLE_GOT_NOTHING:
            return .transferInterrupted("the gateway closed the connection without answering")
        default:
            return .transferInterrupted("\(detail) (libcurl error \(code.rawValue))")
        }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
