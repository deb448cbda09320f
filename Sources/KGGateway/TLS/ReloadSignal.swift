import Dispatch
import Foundation
import Logging

/// SIGHUP reloads the TLS certificate and key (`systemctl reload kg-gateway`,
/// or `kill -HUP`), e.g. after a renewal. Without TLS there is nothing to
/// reload, and the signal is only logged: it never stops the gateway (its
/// default action would). Keep the value alive while the gateway runs.
final class ReloadSignal: @unchecked Sendable {
    private let source: DispatchSourceSignal

    init(tls: ReloadableTLSContext?, logger: Logger) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "kg-gateway.sighup"))
        source.setEventHandler {
            guard let tls else {
                logger.notice("SIGHUP: nothing to reload (the gateway serves plain HTTP)")
                return
            }
            do {
                try tls.reload()
                logger.notice(
                    "SIGHUP: TLS certificate reloaded; new connections get it",
                    metadata: ["certificate": "\(tls.certificateFile)"])
            } catch {
                logger.error(
                    "SIGHUP: TLS certificate NOT reloaded, still serving the previous one: \(error)",
                    metadata: ["certificate": "\(tls.certificateFile)"])
            }
        }
        source.resume()
    }

    deinit { source.cancel() }
}
