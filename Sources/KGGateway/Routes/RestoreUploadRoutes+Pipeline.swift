import Foundation
import Hummingbird
import KGDatabase
import KGFormat

extension RestoreUploadRoutes {
    /// The end of an upload that a pipelined restore (``RestorePipeline``) has been loading; nil when
    /// a new restore must take the whole file (the job gave the upload up, or is gone).
    ///
    /// - The check refused the upload: the job is cancelled, and the caller answers as for any
    ///   invalid upload (400 and the findings).
    /// - The job takes the file (``RestorePipeline/accept(_:dataPath:)``): 202 with it.
    /// - The job failed, or a user cancelled it: 202 with it, as it ended; the CLI follows it and
    ///   says why (a new restore would repeat the failure, or undo the cancel).
    func finishPipelined(
        _ jobID: String, _ context: GatewayRequestContext, user: AuthenticatedUser, session: UploadSession,
        paths: (record: String, data: String), report: IntegrityReport
    ) async throws -> Response? {
        guard report.valid else {
            await pipeline.cancel(jobID, reason: "the upload is not a valid backup (the gateway's check refused it); nothing was changed")
            return nil
        }
        let status: String
        if try await pipeline.accept(jobID, dataPath: paths.data) {
            // The job loaded the file while it arrived and takes it now: the upload ends here.
            await FileCalls.unlink(paths.record)
            let parts = session.parts == 1 ? "1 request" : "\(session.parts) requests"
            // The same detail as a restore queued once its upload ended (``RestoreRoutes/queue``).
            let mode = (try? RestoreRoutes.modeAndDeps(session.fields, backupType: report.backupType).0.rawValue) ?? "-"
            let dryRun = ["true", "1", "yes"].contains(session.fields["dry_run"]?.lowercased() ?? "false")
            await audit.record(
                context, actor: user.username, action: "restore", target: jobID, outcome: AuditLog.Outcome.accepted,
                detail:
                    "mode \(mode)\(dryRun ? ", dry run" : ""), file \(session.fileName ?? "-"), \(session.size) bytes, "
                    + "resumable upload \(session.id) in \(parts), loaded while it arrived")
            status = "running"
        } else if let ended = await pipeline.ended(jobID) {
            await FileCalls.unlink(paths.data, paths.record)
            status = ended
        } else {
            return nil
        }
        var response = try JSON.response(
            encoding: RestoreAccepted(jobID: jobID, status: status, backupStats: report.counts, integrityWarnings: report.warnings.map(\.message)),
            status: .accepted)
        response.headers.append(contentsOf: headers(session, offset: session.size))
        return response
    }
}
