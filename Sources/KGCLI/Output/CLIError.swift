import KGClient

/// A failure the CLI reports with a message and one of the contract's exit codes:
/// 1 operation failed, 2 usage, 3 server unreachable, 4 not authenticated or not permitted.
public struct CLIError: Error, CustomStringConvertible {
    public let message: String
    public let exitCode: Int32

    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }

    static func usage(_ message: String) -> CLIError { CLIError(message, exitCode: 2) }

    /// Maps a transport or HTTP failure to its exit code and a message with a next step.
    static func from(_ error: HTTPClientError) -> CLIError {
        switch error {
        case .unreachable:
            return CLIError(error.description, exitCode: 3)
        case .tls(let detail):
            // No trusted connection was made: the server is unreachable *safely* (exit 3), and nothing was sent.
            return CLIError(
                """
                cannot reach the kg gateway safely: TLS failed (\(detail)). Nothing was sent.
                If the gateway uses a certificate from a private CA, trust that CA with --cacert FILE \
                (or KG_CACERT, or `kg config set cacert FILE`); check that the URL's host name matches the certificate.
                """, exitCode: 3)
        case .http(let status, let message, _) where status == 401:
            // The gateway says why (expired at …, revoked at …, wrong password).
            let reason = message.isEmpty ? "not authenticated" : message
            // The gateway's message may already say how to log in: the advice once.
            if reason.contains("kg login") { return CLIError(reason, exitCode: 4) }
            return CLIError("\(reason)\nLog in again with `kg login --username NAME`.", exitCode: 4)
        case .http(let status, let message, let body) where status == 429:
            return CLIError(JobLimitMessage.text(message: message, body: body), exitCode: 1)
        case .http(let status, _, _) where status == 403:
            return CLIError(error.description, exitCode: 4)
        default:
            return CLIError(error.description, exitCode: 1)
        }
    }
}
