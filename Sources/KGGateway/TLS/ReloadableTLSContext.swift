import Foundation
import NIOConcurrencyHelpers
import KGService
import NIOSSL

/// The gateway's TLS context, made from `tls_certificate_file` and
/// `tls_private_key_file`, and made again from the same files on SIGHUP
/// (``ReloadSignal``): a renewed certificate is served to new connections
/// without a restart, connections already open keep the one they began with.
/// A reload that fails (a half-written file, a key of another certificate)
/// changes nothing: the previous context stays, and the caller logs why.
final class ReloadableTLSContext: @unchecked Sendable {
    let certificateFile: String
    let privateKeyFile: String
    let minimumVersion: String
    private let lock = NIOLock()
    private var context: NIOSSLContext

    /// nil when neither file is set (plain HTTP); throws ``ConfigError`` naming a bad file.
    static func make(certificateFile: String?, privateKeyFile: String?, minimumVersion: String = "1.2") throws -> ReloadableTLSContext? {
        guard
            let context = try GatewayTLS.context(
                certificateFile: certificateFile, privateKeyFile: privateKeyFile,
                minimumVersion: minimumVersion),
            let certificateFile, let privateKeyFile
        else { return nil }
        return ReloadableTLSContext(
            certificateFile: certificateFile, privateKeyFile: privateKeyFile, minimumVersion: minimumVersion,
            context: context)
    }

    private init(certificateFile: String, privateKeyFile: String, minimumVersion: String, context: NIOSSLContext) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.minimumVersion = minimumVersion
        self.context = context
    }

    /// The context for a new connection.
    var current: NIOSSLContext { lock.withLock { context } }

    /// Loads both files again and, if they make a usable pair, serves them from now on.
    func reload() throws {
        guard
            let fresh = try GatewayTLS.context(
                certificateFile: certificateFile, privateKeyFile: privateKeyFile,
                minimumVersion: minimumVersion)
        else {
            throw ConfigError("the TLS files are no longer set")
        }
        lock.withLock { context = fresh }
    }
}
