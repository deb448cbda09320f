import ArgumentParser
import Foundation
import KGClient
import KGFormat

/// `kg job status|list|watch|cancel`.
struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Follow and manage jobs.",
        subcommands: [Status.self, List.self, Watch.self, Cancel.self])

    static func fetch(_ client: HTTPClient, _ method: String, _ path: String) throws -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try client.request(method: method, path: path)
        } catch let error as HTTPClientError {
            throw CLIError.from(error)
        }
        guard response.isSuccess else {
            if response.status == 404 {
                throw CLIError("no such job (or not yours): \(path.split(separator: "/").last ?? ""); `kg job list` shows yours")
            }
            throw CLIError.from(.http(status: response.status, message: response.errorMessage ?? "", body: response.body))
        }
        return response
    }

    static func describe(_ job: Job) -> String {
        var lines = ["job \(job.jobID)  \(job.jobType)  \(job.status.rawValue)"]
        if let p = job.progress {
            var line = String(format: "  progress: %.1f%%  stage %@", p.percent, p.stage)
            if let done = p.itemsProcessed, let total = p.itemsTotal, total > 0 { line += "  \(done)/\(total)" }
            if let message = p.message { line += "  (\(message))" }
            lines.append(line)
        }
        if let user = job.user { lines.append("  user: \(user)") }
        if let created = job.createdAt { lines.append("  created: \(created)") }
        if let started = job.startedAt { lines.append("  started: \(started)") }
        if let completed = job.completedAt { lines.append("  finished: \(completed)") }
        if let attempts = job.attempts, attempts > 1 { lines.append("  attempts: \(attempts)") }
        if let error = job.error { lines.append("  error: \(error)") }
        if let result = job.result {
            let data = (try? JSONEncoder().encode(result)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            lines.append("  result: \(data)")
        }
        return lines.joined(separator: "\n")
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a job.",
            discussion: """
                EXAMPLES:
                  kg job status 3f2a9c1e-0b7d-4c55-9d5e-2f4b8c1a7e90
                  kg job status 3f2a --json
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Job id, or its first characters (at least 4) when they name one job.") var id: String

        func run() throws {
            let client = try global.client(try global.config())
            let id = try JobReference.resolve(self.id, client: client)
            let response = try JobCommand.fetch(client, "GET", "/jobs/\(id)")
            if output.json {
                print(String(decoding: response.body, as: UTF8.self))
            } else {
                print(JobCommand.describe(try response.decodeJSON(Job.self)))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List your jobs (all jobs for admins), newest first.",
            discussion: """
                EXAMPLES:
                  kg job list
                  kg job list --status running --json
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only jobs in this state: queued, running, completed, failed, cancelled.") var status: JobStatus?

        func run() throws {
            let path = "/jobs" + (status.map { "?status=\($0.rawValue)" } ?? "")
            let response = try JobCommand.fetch(try global.client(try global.config()), "GET", path)
            if output.json {
                print(String(decoding: response.body, as: UTF8.self))
                return
            }
            struct Jobs: Decodable { let jobs: [Job] }
            let jobs = try response.decodeJSON(Jobs.self).jobs
            if jobs.isEmpty {
                Terminal.error("no jobs")
                return
            }
            let rows = jobs.map { job in
                [
                    job.jobID, job.jobType, job.status.rawValue, job.progress.map { String(format: "%.1f%%", $0.percent) } ?? "",
                    TextTable.time(job.createdAt), job.user ?? "",
                ]
            }
            print(TextTable.render(header: ["JOB", "TYPE", "STATUS", "DONE", "CREATED (UTC)", "USER"], rows: rows))
        }
    }

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a job until it ends.",
            discussion: """
                Exit 0 when it completes, 1 when it fails or is cancelled.

                EXAMPLES:
                  kg job watch 3f2a
                  kg job watch 3f2a9c1e-0b7d-4c55-9d5e-2f4b8c1a7e90 --json
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Job id, or its first characters (at least 4) when they name one job.") var id: String

        func run() throws {
            let config = try global.config()
            let client = try global.client(config)
            let id = try JobReference.resolve(self.id, client: client)
            _ = try JobCommand.fetch(client, "GET", "/jobs/\(id)")
            let follower = JobFollower(client: try global.client(config), jobID: id)
            follower.start()
            let line = ProgressLine()
            var job: Job?
            while true {
                job = follower.waitForEnd(timeout: 0.2)
                if let job, job.status.isTerminal { break }
                if let p = job?.progress {
                    line.update { String(format: "%@  %5.1f%%  %@  %@", p.stage, p.percent, Terminal.bar(p.percent / 100), p.message ?? "") }
                }
            }
            line.clear()
            follower.stop()
            guard let job else { throw CLIError("lost track of job \(id)") }
            if output.json {
                // The server's own JSON of the job, as `kg job status --json` prints it: one shape, one key order.
                let final = try JobCommand.fetch(client, "GET", "/jobs/\(id)")
                print(String(decoding: final.body, as: UTF8.self))
            } else {
                print(JobCommand.describe(job))
            }
            if job.status != .completed { throw ExitCode(1) }
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a queued or running job (a running restore rolls back).",
            discussion: """
                EXAMPLES:
                  kg job cancel 3f2a
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Job id, or its first characters (at least 4) when they name one job.") var id: String

        func run() throws {
            let client = try global.client(try global.config())
            let id = try JobReference.resolve(self.id, client: client)
            let response: HTTPResponse
            do {
                response = try client.request(method: "DELETE", path: "/jobs/\(id)")
            } catch let error as HTTPClientError {
                throw CLIError.from(error)
            }
            if response.status == 409 {
                throw CLIError("job \(id) has already finished; nothing to cancel")
            }
            if response.status == 404 { throw CLIError("no such job (or not yours): \(id)") }
            guard response.isSuccess else {
                throw CLIError.from(.http(status: response.status, message: response.errorMessage ?? "", body: response.body))
            }
            if output.json {
                print(String(decoding: response.body, as: UTF8.self))
            } else {
                print(JobCommand.describe(try response.decodeJSON(Job.self)))
            }
        }
    }
}

extension JobStatus: ExpressibleByArgument {}
