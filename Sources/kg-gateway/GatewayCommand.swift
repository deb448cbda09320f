import ArgumentParser
import Foundation
import KGDatabase
import KGGateway
import KGService
import Logging

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kg-gateway",
        abstract: "The kg HTTP gateway: authentication, backup streaming, job status.",
        discussion: ServiceConfig.helpText,
        subcommands: [Serve.self, MigrateCommand.self, User.self],
        defaultSubcommand: Serve.self)
}

extension GatewayCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve HTTP until SIGTERM or SIGINT.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            let config = try options.load()
            LogSetup.bootstrap(config: config)
            let logger = Logger(label: LogComponent.gateway)
            do {
                try await GatewayService.run(config: config, logger: logger)
            } catch {
                logger.critical("gateway stopped: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct User: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage users.", subcommands: [Add.self, Remove.self, Passwd.self, List.self, Revoke.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add a user; the password is read from standard input.")
            @OptionGroup var options: ConfigOption
            @Option(help: "User name.") var username: String
            @Option(help: "admin or reader.") var role = "reader"

            func validate() throws {
                guard role == "admin" || role == "reader" else { throw ValidationError("--role must be admin or reader") }
            }

            func run() throws {
                let hash = try hashPassword(try readPassword())
                try withUsers(options) {
                    try $0.add(username: username, passwordHash: hash, role: role)
                    try auditOperator($0, action: "user.add", target: username, detail: "role \(role)")
                }
                print("added \(role) \(username)")
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a user and their tokens.")
            @OptionGroup var options: ConfigOption
            @Option(help: "User name.") var username: String

            func run() throws {
                guard
                    try withUsers(
                        options,
                        { users in
                            let removed = try users.remove(username: username)
                            if removed { try auditOperator(users, action: "user.remove", target: username) }
                            return removed
                        })
                else {
                    throw ValidationError("no user \(username)")
                }
                print("removed \(username)")
            }
        }

        struct Passwd: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Set a user's password (read from standard input).")
            @OptionGroup var options: ConfigOption
            @Option(help: "User name.") var username: String

            func run() throws {
                let hash = try hashPassword(try readPassword())
                guard
                    try withUsers(
                        options,
                        { users in
                            let changed = try users.setPassword(username: username, passwordHash: hash)
                            if changed { try auditOperator(users, action: "user.passwd", target: username) }
                            return changed
                        })
                else {
                    throw ValidationError("no user \(username)")
                }
                print("password changed for \(username)")
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Revoke every token of a user (they must log in again); the user stays.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "User name.") var username: String

            func run() throws {
                let revoked: Int? = try withUsers(options) { users in
                    guard try users.exists(username: username) else { return nil }
                    let count = try users.revokeAll(username: username)
                    try auditOperator(users, action: "tokens.revoke", target: username, detail: "\(count) token(s) revoked")
                    return count
                }
                guard let revoked else { throw ValidationError("no user \(username) (see `kg-gateway user list`)") }
                print("revoked \(revoked) token(s) of \(username)")
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List users.")
            @OptionGroup var options: ConfigOption

            func run() throws {
                for user in try withUsers(options, { try $0.list() }) {
                    print("\(user.username)\t\(user.role)\t\(user.createdAt)")
                }
            }
        }
    }
}

func readPassword() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("no password on standard input (pipe it in, e.g. `echo \"$PW\" | kg-gateway user add ...`)")
    }
    return line
}

/// A bcrypt hash made here: the password itself never goes to the database (issue 14).
func hashPassword(_ password: String) throws -> String {
    do {
        return try PasswordHashing.hash(password)
    } catch let error as PasswordHashing.PasswordError {
        throw ValidationError("\(error.description): choose another password")
    }
}

/// Operator commands run on the server itself: the audit row names the local account.
func auditOperator(_ users: UserStore, action: String, target: String, detail: String? = nil) throws {
    let account = ProcessInfo.processInfo.environment["USER"] ?? "unknown"
    try AuditLog.record(
        users.db, actor: "operator:\(account)", action: action, target: target,
        outcome: AuditLog.Outcome.success, remoteAddress: nil, detail: (detail.map { $0 + "; " } ?? "") + "via kg-gateway user")
}

func withUsers<T>(_ options: ConfigOption, _ body: (UserStore) throws -> T) throws -> T {
    let config = try options.load()
    let db = try PGConnection(url: config.databaseURL, applicationName: "kg-gateway-admin")
    return try body(UserStore(db))
}
