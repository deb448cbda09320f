import Foundation
import HummingbirdTLS
import KGService
import NIOSSL

/// HTTPS for the gateway from `tls_certificate_file` and `tls_private_key_file`
/// (both or neither). Everything is loaded and checked at startup, so a bad
/// file stops the gateway with a message naming it instead of failing every
/// handshake later.
///
/// ```swift
/// if let context = try GatewayTLS.context(certificateFile: cert, privateKeyFile: key) { … NIOSSLServerHandler(context: context) … }
/// ```
enum GatewayTLS {
    /// nil when neither file is set (plain HTTP, e.g. behind a TLS-terminating proxy).
    /// TLS 1.0 and 1.1 are never accepted; `minimumVersion` "1.3" refuses 1.2 too.
    static func context(certificateFile: String?, privateKeyFile: String?, minimumVersion: String = "1.2") throws -> NIOSSLContext? {
        let certificate = certificateFile.flatMap { $0.isEmpty ? nil : $0 }
        let key = privateKeyFile.flatMap { $0.isEmpty ? nil : $0 }
        guard let certificatePath = certificate, let keyPath = key else {
            if certificate == nil && key == nil { return nil }
            let (set, missing) =
                certificate != nil
                ? ("tls_certificate_file", "tls_private_key_file (KG_TLS_PRIVATE_KEY_FILE)")
                : ("tls_private_key_file", "tls_certificate_file (KG_TLS_CERTIFICATE_FILE)")
            throw ConfigError("\(set) is set but \(missing) is not: set both for HTTPS, or neither for plain HTTP")
        }
        try requireReadable(certificatePath, key: "tls_certificate_file")
        try requireReadable(keyPath, key: "tls_private_key_file")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw ConfigError(
                "tls_certificate_file \(certificatePath) is not a PEM certificate (\(error)); it must hold \"-----BEGIN CERTIFICATE-----\" blocks, the server's first"
            )
        }
        guard !chain.isEmpty else {
            throw ConfigError("tls_certificate_file \(certificatePath) holds no certificate; it must hold \"-----BEGIN CERTIFICATE-----\" blocks")
        }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw ConfigError("tls_private_key_file \(keyPath) is not an unencrypted PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = minimumVersion == "1.3" ? .tlsv13 : .tlsv12
        do {
            // This is where a key that does not belong to the certificate shows.
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ConfigError(
                "the TLS certificate \(certificatePath) and private key \(keyPath) cannot be used together (\(error)); is the key the certificate's?")
        }
    }

    private static func requireReadable(_ path: String, key: String) throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "not readable by this process" : "no such file"
            throw ConfigError("\(key) \(path) cannot be read: \(reason)")
        }
    }
}
