import Foundation
import KGBroker
import KGClient
import KGService
import XCTest

/// The deployment kit (deploy/compose, deploy/systemd, config/) relies only on what the
/// binaries really read and serve: every check derives from the code (`ServiceConfig`,
/// `JobTopology`, the binaries' `--help`, a running gateway), not from a copied list, so a
/// renamed key, variable, flag, queue argument or route makes one of these fail.
final class DeployKitTests: XCTestCase {
    /// Variables the services read outside `ServiceConfig.settings`.
    static let extraVariables: Set<String> = ["KG_CONFIG"]

    private func knownVariables() -> Set<String> { ServiceConfig.environmentNames.union(Self.extraVariables) }

    private func composeEnvironment(_ service: String) throws -> [String: String] {
        let services = try DeployFiles.services(try DeployFiles.compose())
        return DeployFiles.environment(try XCTUnwrap(services[service], "compose.yaml has no service \(service)"))
    }

    /// A config load with the environment of a deployment file; `*_FILE` paths (which exist only
    /// inside a container or a systemd unit) point at a local stand-in holding "secret".
    private func load(_ environment: [String: String], file: String? = nil) throws -> ServiceConfig {
        let standIn = NSTemporaryDirectory() + "kg-deploy-secret-" + UUID().uuidString
        try "secret\n".write(toFile: standIn, atomically: true, encoding: .utf8)
        defer { unlink(standIn) }
        var env = environment
        for key in env.keys where key.hasSuffix("_FILE") { env[key] = standIn }
        return try ServiceConfig.load(path: file, environment: env)
    }

    // MARK: compose

    func testComposeHasTheServicesVolumesAndSecretsItNeeds() throws {
        let compose = try DeployFiles.compose()
        let services = try DeployFiles.services(compose)
        XCTAssertEqual(Set(services.keys), ["postgres", "rabbitmq-1", "rabbitmq-2", "rabbitmq-3", "migrate", "gateway", "worker", "proxy"])
        let gateway = try XCTUnwrap(services["gateway"]), worker = try XCTUnwrap(services["worker"])
        XCTAssertEqual((gateway["deploy"] as? [String: Any])?["replicas"] as? Int, 2, "two gateways behind one port")
        XCTAssertGreaterThanOrEqual((worker["deploy"] as? [String: Any])?["replicas"] as? Int ?? 0, 1)
        XCTAssertNil(gateway["ports"], "replicas cannot publish one host port: the proxy does")
        XCTAssertEqual(services["proxy"]?["ports"] as? [String], ["8080:8080"])

        // One temp volume, mounted where each service's KG_TEMP_DIR points.
        let volumes = try XCTUnwrap(compose["volumes"] as? [String: Any])
        XCTAssertNotNil(volumes["kg-temp"])
        for name in ["gateway", "worker"] {
            let service = try XCTUnwrap(services[name])
            let temp = try XCTUnwrap(DeployFiles.environment(service)["KG_TEMP_DIR"])
            XCTAssertEqual(service["volumes"] as? [String], ["kg-temp:\(temp)"], name)
        }
        // Each service's secrets exist at the top level, and each *_FILE variable names one of them.
        let secrets = try XCTUnwrap(compose["secrets"] as? [String: Any])
        for (name, service) in services {
            let mounted = (service["secrets"] as? [Any] ?? []).compactMap { item -> String? in
                (item as? String) ?? ((item as? [String: Any])?["source"] as? String)
            }
            for secret in mounted { XCTAssertNotNil(secrets[secret], "\(name) uses undeclared secret \(secret)") }
            for (key, value) in DeployFiles.environment(service) where key.hasSuffix("_FILE") && value.hasPrefix("/run/secrets/") {
                XCTAssertTrue(mounted.contains(String(value.dropFirst("/run/secrets/".count))), "\(name): \(key)=\(value) is not mounted")
            }
        }
        // A worker finishing its job after SIGTERM is not killed by compose first.
        let grace = try XCTUnwrap(Double(DeployFiles.environment(worker)["KG_SHUTDOWN_GRACE"] ?? "30"))
        let stop = try XCTUnwrap(worker["stop_grace_period"] as? String)
        XCTAssertGreaterThan(Double(stop.dropLast()) ?? 0, grace, "stop_grace_period \(stop) must exceed KG_SHUTDOWN_GRACE")
    }

    func testEveryKGVariableOfTheDeploymentFilesIsOneTheServicesRead() throws {
        let known = knownVariables()
        var used: [String: Set<String>] = [:]
        for service in try DeployFiles.services(try DeployFiles.compose()).values {
            used["compose.yaml", default: []].formUnion(DeployFiles.environment(service).keys.filter { $0.hasPrefix("KG_") })
        }
        used["compose.yaml (text)"] = DeployFiles.kgVariables(in: try DeployFiles.text("deploy/compose/compose.yaml"))
        used["Dockerfile"] = DeployFiles.kgVariables(in: try DeployFiles.text("deploy/compose/Dockerfile"))
        used["kg.env"] = Set(try DeployFiles.environmentFile("deploy/systemd/kg.env").keys)
        for unit in ["kg-gateway.service", "kg-worker@.service"] {
            used[unit] = DeployFiles.kgVariables(in: try DeployFiles.text("deploy/systemd/\(unit)"))
        }
        XCTAssertFalse(used["compose.yaml"]!.isEmpty)
        for (file, names) in used {
            let unknown = names.subtracting(known)
            XCTAssertTrue(unknown.isEmpty, "\(file) sets variables no service reads: \(unknown.sorted()); known: \(known.sorted())")
        }
        // And the values parse: each service's environment loads as a configuration.
        for name in ["migrate", "gateway", "worker"] {
            XCTAssertNoThrow(try load(try composeEnvironment(name)), name)
        }
        XCTAssertNoThrow(try load(try DeployFiles.environmentFile("deploy/systemd/kg.env")))
        XCTAssertNoThrow(try load(DeployFiles.dockerEnvironment(try DeployFiles.dockerfile("deploy/compose/Dockerfile"))))
    }

    func testPortsAgreeAcrossComposeProxyDockerfileAndSystemd() throws {
        let services = try DeployFiles.services(try DeployFiles.compose())
        let gateway = try load(try composeEnvironment("gateway"))
        XCTAssertEqual(gateway.host, "0.0.0.0", "inside a container the gateway must listen beyond loopback")
        for url in DeployFiles.healthcheckURLs(try XCTUnwrap(services["gateway"])) {
            XCTAssertEqual(DeployFiles.urlPort(url), gateway.port, url)
        }
        let nginx = try DeployFiles.text("deploy/compose/nginx.conf")
        XCTAssertTrue(nginx.contains("server gateway:\(gateway.port) "), "nginx upstream must use the gateway port \(gateway.port)")
        let published = try XCTUnwrap((services["proxy"]?["ports"] as? [String])?.first)
        XCTAssertTrue(nginx.contains("listen \(published.split(separator: ":").last!);"), "nginx listens on the published port")
        // The proxy lets through what the gateway accepts (the gateway answers 413 itself).
        XCTAssertTrue(nginx.contains("client_max_body_size \(gateway.maxUploadBytes / (1 << 30))g;"))
        for directive in ["proxy_buffering off;", "proxy_request_buffering off;", "X-Forwarded-For"] {
            XCTAssertTrue(nginx.contains(directive), "nginx.conf needs \(directive)")
        }

        let docker = try DeployFiles.dockerfile("deploy/compose/Dockerfile")
        let image = try load(DeployFiles.dockerEnvironment(docker))
        XCTAssertTrue(docker.contains { $0.instruction == "EXPOSE" && $0.arguments == String(image.port) })
        XCTAssertEqual(image.port, gateway.port)

        let systemd = try load(try DeployFiles.environmentFile("deploy/systemd/kg.env"))
        let unit = try DeployFiles.unit("deploy/systemd/kg-gateway.service")
        for line in unit where line.key == "ExecStartPost" {
            let url = try XCTUnwrap(line.value.split(separator: " ").first { $0.hasPrefix("http") }).replacingOccurrences(
                of: "${KG_GATEWAY_PORT}", with: String(systemd.port))
            XCTAssertEqual(DeployFiles.urlPort(url), systemd.port)
        }
    }

    func testDockerfileBuildsTheExecutablesTheDeploymentRuns() throws {
        let docker = try DeployFiles.dockerfile("deploy/compose/Dockerfile")
        XCTAssertGreaterThanOrEqual(docker.filter { $0.instruction == "FROM" }.count, 2, "multi-stage")
        let products = try DeployFiles.executableProducts()
        let build = docker.filter { $0.instruction == "RUN" && $0.arguments.contains("swift build") }.map(\.arguments).joined(separator: " ")
        XCTAssertTrue(build.contains("-c release"))
        let regex = try NSRegularExpression(pattern: "--product ([A-Za-z0-9_-]+)")
        let built = Set(
            regex.matches(in: build, range: NSRange(build.startIndex..., in: build)).map {
                String(build[Range($0.range(at: 1), in: build)!])
            })
        XCTAssertTrue(built.isSubset(of: products), "unknown products \(built.subtracting(products))")
        XCTAssertTrue(built.isSuperset(of: ["kg-gateway", "kg-worker"]))
        // The migrations are where KG_MIGRATIONS_DIR says, in the image and in compose.
        let migrations = try XCTUnwrap(DeployFiles.dockerEnvironment(docker)["KG_MIGRATIONS_DIR"])
        XCTAssertTrue(docker.contains { $0.instruction == "COPY" && $0.arguments == "schema/migrations \(migrations)" })
        XCTAssertEqual(try composeEnvironment("gateway")["KG_MIGRATIONS_DIR"], migrations)
        XCTAssertEqual(try DeployFiles.environmentFile("deploy/systemd/kg.env")["KG_MIGRATIONS_DIR"], migrations)
        // Every command compose runs exists in a built binary.
        for (name, service) in try DeployFiles.services(try DeployFiles.compose()) {
            guard let command = service["command"] as? [String] else { continue }
            XCTAssertTrue(built.contains(command[0]), "\(name) runs \(command[0]), which the image does not build")
            XCTAssertNoThrow(try DeployFiles.help(command[0], Array(command.dropFirst())), name)
        }
        // A Dockerfile-specific ignore file keeps build folders out of the context.
        XCTAssertTrue(try DeployFiles.text("deploy/compose/Dockerfile.dockerignore").contains(".build"))
    }

    // MARK: config files

    func testConfigFilesLoadAndDocumentEveryKey() throws {
        var documented: Set<String> = []
        let defaults = ServiceConfig()
        for file in ["config/gateway.json", "config/worker.json"] {
            // An unknown key fails the load.
            let loaded = try ServiceConfig.load(path: DeployFiles.path(file), environment: [:])
            let object = try DeployFiles.json(file)
            for key in object.keys where !key.hasPrefix("_") {
                XCTAssertNotNil(object["_" + key], "\(file): \(key) has no \"_\(key)\" comment")
                // The examples show the defaults of the table, as the loader reads them.
                let setting = try XCTUnwrap(ServiceConfig.setting(forKey: key), "\(file): \(key)")
                XCTAssertEqual(
                    setting.valueText(in: loaded), setting.valueText(in: defaults),
                    "\(file): \(key) is not its default; write the default of its ServiceConfig property (or only the comment)")
            }
            documented.formUnion(object.keys.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 })
        }
        let missing = Set(ServiceConfig.settings.map(\.key)).subtracting(documented)
        XCTAssertTrue(
            missing.isEmpty,
            """
            keys of ServiceConfig.settings described in neither config/gateway.json nor config/worker.json: \
            \(missing.sorted()). Add each with its default and a "_key" comment (or only the comment for secrets).
            """)
        // The broker config of the local stack keeps long restores' deliveries.
        for conf in ["config/rabbitmq.conf", "deploy/compose/rabbitmq/rabbitmq.conf"] {
            let timeout = try XCTUnwrap(try Self.confValue(conf, "consumer_timeout").flatMap(Int.init), conf)
            XCTAssertGreaterThanOrEqual(timeout, 6 * 3_600_000, "\(conf): consumer_timeout below 6 h")
        }
    }

    private static func confValue(_ file: String, _ key: String) throws -> String? {
        for line in try DeployFiles.text(file).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 && parts[0] == key { return parts[1] }
        }
        return nil
    }

    /// `--help` of both binaries and the settings tables of README.md and docs/OPERATIONS.md say what
    /// `ServiceConfig.settings` says: each key with its variable, and the default where a row gives one.
    func testHelpAndDocsNameSettingsAsTheTableDoes() throws {
        for binary in ["kg-gateway", "kg-worker"] {
            let help = try DeployFiles.help(binary, [])
            for setting in ServiceConfig.settings {
                XCTAssertTrue(
                    help.contains(setting.key) && help.contains(setting.env), "\(binary) --help does not list \(setting.key) / \(setting.env)")
            }
        }
        let keys = Dictionary(uniqueKeysWithValues: ServiceConfig.settings.map { ($0.key, $0) })
        var rowsChecked = 0
        for file in ["README.md", "docs/OPERATIONS.md"] {
            for line in try DeployFiles.text(file).split(separator: "\n") where line.hasPrefix("|") {
                guard let row = SettingsRow(line, keys: keys) else { continue }
                rowsChecked += 1
                for key in row.keys {
                    let setting = keys[key]!
                    XCTAssertTrue(
                        row.variables.contains(setting.env), "\(file): \(key) is read from \(setting.env), not \(row.variables.sorted()): \(line)")
                }
                for variable in row.variables {
                    XCTAssertTrue(ServiceConfig.environmentNames.contains(variable), "\(file): no setting reads \(variable): \(line)")
                }
                for (key, shown) in row.defaults {
                    guard let value = keys[key]!.defaultText, value != "none" else { continue }
                    XCTAssertTrue(SettingsRow.starts(shown, with: value), "\(file): the default of \(key) is \(value), not \"\(shown)\": \(line)")
                }
            }
        }
        XCTAssertGreaterThan(rowsChecked, 30, "the settings tables of README.md and docs/OPERATIONS.md were not found")
    }

    /// A markdown table row that names settings: a cell of keys (`port`, `host`; or `key` (`KG_VAR`)),
    /// perhaps a cell of their variables, then a cell that starts with their defaults ("8080, 127.0.0.1").
    private struct SettingsRow {
        let keys: [String]
        let variables: Set<String>
        let defaults: [(key: String, shown: String)]

        init?(_ line: Substring, keys known: [String: ServiceSetting]) {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
            func tokens(_ cell: String) -> (names: [String], rest: String)? {
                let parts = cell.components(separatedBy: "`")
                guard parts.count >= 3, parts.count % 2 == 1 else { return nil }
                let names = stride(from: 1, to: parts.count, by: 2).map { parts[$0] }
                let rest = stride(from: 0, to: parts.count, by: 2).map { parts[$0] }.joined()
                return rest.allSatisfy { " ,()/".contains($0) } ? (names, rest) : nil
            }
            guard
                let index = cells.indices.first(where: { i in
                    guard let (names, _) = tokens(cells[i]) else { return false }
                    return names.contains { known[$0] != nil } && names.allSatisfy { known[$0] != nil || $0.hasPrefix("KG_") }
                })
            else { return nil }
            let names = tokens(cells[index])!.names
            keys = names.filter { known[$0] != nil }
            var variables = Set(names.filter { $0.hasPrefix("KG_") })
            var next = index + 1
            if next < cells.count, let (more, _) = tokens(cells[next]), more.allSatisfy({ $0.hasPrefix("KG_") }) {
                variables.formUnion(more)
                next += 1
            }
            self.variables = variables
            guard next < cells.count, !cells[next].isEmpty else {
                defaults = []
                return
            }
            // One default per key, in the keys' order: "20, 10, 300 s: …".
            let shown = cells[next].replacingOccurrences(of: "`", with: "")
            let parts = keys.count == 1 ? [shown] : shown.components(separatedBy: ", ")
            defaults = parts.count >= keys.count ? Array(zip(keys, parts.prefix(keys.count))).map { ($0, $1) } : []
        }

        /// "3600 s: …" starts with "3600"; "30 s" does not start with "3".
        static func starts(_ text: String, with value: String) -> Bool {
            guard text.hasPrefix(value) else { return false }
            guard let next = text.dropFirst(value.count).first else { return true }
            return !(next.isNumber || next == ".")
        }
    }

    // MARK: RabbitMQ definitions

    /// The topology compose's binaries declare, from their own configuration.
    private func composeTopology() throws -> (JobTopology, AMQPURL) {
        let config = try load(try composeEnvironment("worker"))
        return (JobTopology(prefix: config.brokerPrefix, queueType: config.brokerQueueType), try AMQPURL(config.brokerURLs[0]))
    }

    private static func jsonValue(_ value: AMQPFieldValue) -> String {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return String(b)
        }
    }

    func testDefinitionsDeclareExactlyWhatJobTopologyDeclares() throws {
        let (topology, url) = try composeTopology()
        XCTAssertEqual(topology.queueType, "quorum", "compose runs the job queue as a quorum queue")
        let definitions = try DeployFiles.json("deploy/compose/rabbitmq/definitions.json")
        let vhost = url.vhost
        XCTAssertEqual((definitions["vhosts"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, [vhost])

        let exchanges = Set(
            (definitions["exchanges"] as? [[String: Any]] ?? []).map {
                "\($0["vhost"] ?? "")|\($0["name"] ?? "")|\($0["type"] ?? "")|durable=\($0["durable"] ?? "")|auto_delete=\($0["auto_delete"] ?? "")"
            })
        XCTAssertEqual(
            exchanges,
            [
                "\(vhost)|\(topology.jobExchange)|direct|durable=1|auto_delete=0",
                "\(vhost)|\(topology.deadLetterExchange)|direct|durable=1|auto_delete=0",
                "\(vhost)|\(topology.statusExchange)|topic|durable=1|auto_delete=0",
            ])
        var queues: [String: [String: String]] = [:]
        for queue in definitions["queues"] as? [[String: Any]] ?? [] {
            XCTAssertEqual(queue["durable"] as? Bool, true)
            XCTAssertEqual(queue["auto_delete"] as? Bool, false)
            XCTAssertEqual(queue["vhost"] as? String, vhost)
            queues[queue["name"] as? String ?? ""] = (queue["arguments"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
        }
        XCTAssertEqual(
            queues,
            [
                topology.jobQueue: topology.jobQueueArguments.mapValues(Self.jsonValue),
                topology.deadLetterQueue: [:],
            ])
        let bindings = Set(
            (definitions["bindings"] as? [[String: Any]] ?? []).map {
                "\($0["source"] ?? "")->\($0["destination"] ?? "")(\($0["destination_type"] ?? ""))@\($0["routing_key"] ?? "")"
            })
        XCTAssertEqual(
            bindings,
            [
                "\(topology.jobExchange)->\(topology.jobQueue)(queue)@\(topology.jobRoutingKey)",
                "\(topology.deadLetterExchange)->\(topology.deadLetterQueue)(queue)@\(topology.jobRoutingKey)",
            ])
        // Each policy applies to a queue that exists (a typo in a pattern would apply to nothing).
        let policies = definitions["policies"] as? [[String: Any]] ?? []
        XCTAssertFalse(policies.isEmpty)
        for policy in policies {
            let pattern = try NSRegularExpression(pattern: try XCTUnwrap(policy["pattern"] as? String))
            let matched = queues.keys.filter { pattern.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
            XCTAssertFalse(matched.isEmpty, "policy \(policy["name"] ?? "") matches no queue")
            XCTAssertFalse(matched.contains(topology.jobQueue), "a policy on the job queue could change its behaviour unseen")
        }
        // RabbitMQ loads the folder compose mounts the topology into, topology before users.
        let folder = try XCTUnwrap(try Self.confValue("deploy/compose/rabbitmq/rabbitmq.conf", "load_definitions"))
        for node in ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"] {
            let rabbit = try XCTUnwrap(try DeployFiles.services(try DeployFiles.compose())[node])
            let mounts = (rabbit["volumes"] as? [String] ?? []).filter { $0.hasPrefix("./rabbitmq/definitions.json:") }
            XCTAssertEqual(mounts.count, 1, node)
            let topologyTarget = String(mounts[0].split(separator: ":")[1])
            let usersTarget = try XCTUnwrap((rabbit["secrets"] as? [Any])?.compactMap { ($0 as? [String: Any])?["target"] as? String }.first)
            XCTAssertTrue(topologyTarget.hasPrefix(folder + "/") && usersTarget.hasPrefix(folder + "/"), node)
            XCTAssertLessThan(topologyTarget, usersTarget, "the topology (with the vhost) is imported before the users")
        }
        // The cluster: every node lists all three, and kg knows every node.
        for n in 1...3 {
            XCTAssertEqual(
                try Self.confValue("deploy/compose/rabbitmq/rabbitmq.conf", "cluster_formation.classic_config.nodes.\(n)"),
                "rabbit@rabbitmq-\(n)")
        }
        let urls = try load(try composeEnvironment("worker")).brokerURLs.map { try AMQPURL($0).host }
        XCTAssertEqual(urls, ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"])
    }

    /// What the definitions file creates, declared on the real broker under a private prefix,
    /// must accept the binaries' own declaration (no PRECONDITION_FAILED).
    func testTheBinariesDeclarationAcceptsWhatTheDefinitionsCreate() throws {
        let (composeTopology, _) = try composeTopology()
        let prefix = "kgdeploy\(UUID().uuidString.prefix(8).lowercased())"
        let rename = { (name: String) in prefix + name.dropFirst(composeTopology.prefix.count) }
        let definitions = try DeployFiles.json("deploy/compose/rabbitmq/definitions.json")
        let connection = try AMQPConnection(url: try AMQPURL(try TestEnvironment.amqpURL()), heartbeatSeconds: 0)
        defer { connection.close() }
        let topology = JobTopology(prefix: prefix, queueType: composeTopology.queueType)
        defer {
            if let cleanup = try? AMQPConnection(url: try AMQPURL(try TestEnvironment.amqpURL()), heartbeatSeconds: 0) {
                try? topology.delete(on: cleanup)
                cleanup.close()
            }
        }
        for exchange in definitions["exchanges"] as? [[String: Any]] ?? [] {
            try connection.declareExchange(
                name: rename(exchange["name"] as! String), type: exchange["type"] as! String,
                durable: exchange["durable"] as! Bool, autoDelete: exchange["auto_delete"] as! Bool)
        }
        for queue in definitions["queues"] as? [[String: Any]] ?? [] {
            var arguments: [String: AMQPFieldValue] = [:]
            for (key, value) in queue["arguments"] as? [String: Any] ?? [:] {
                if let text = value as? String {
                    arguments[key] = .string(key == "x-dead-letter-exchange" ? rename(text) : text)
                } else if let number = value as? Int {
                    arguments[key] = .int(Int64(number))
                }
            }
            try connection.declareQueue(
                name: rename(queue["name"] as! String), durable: queue["durable"] as! Bool,
                autoDelete: queue["auto_delete"] as! Bool, arguments: arguments)
        }
        for binding in definitions["bindings"] as? [[String: Any]] ?? [] {
            try connection.bindQueue(
                rename(binding["destination"] as! String), exchange: rename(binding["source"] as! String),
                routingKey: binding["routing_key"] as! String)
        }
        XCTAssertNoThrow(try topology.declare(on: connection), "the gateway's and workers' declaration must match the definitions")
    }

    // MARK: secrets script

    func testMakeSecretsWritesEverySecretComposeReads() throws {
        let dir = NSTemporaryDirectory() + "kg-secrets-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = DeployFiles.path("deploy/compose/make-secrets.sh")
        let first = try runCommand("/bin/bash", [script, dir], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(first.exitCode, 0, first.summary)
        let compose = try DeployFiles.compose()
        for (name, secret) in try XCTUnwrap(compose["secrets"] as? [String: [String: Any]]) {
            let file = try XCTUnwrap(secret["file"] as? String)
            XCTAssertTrue(file.hasPrefix("./secrets/"), "\(name): \(file)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + file.dropFirst("./secrets/".count)), "\(name) not written")
        }
        let mode = try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o700)
        let amqpPassword = try String(contentsOfFile: dir + "/amqp_password", encoding: .utf8).trimmingCharacters(in: .newlines)
        XCTAssertGreaterThanOrEqual(amqpPassword.count, 24)
        let users = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/rabbitmq-users.json"))) as? [String: Any])
        let user = try XCTUnwrap((users["users"] as? [[String: Any]])?.first)
        // Every node's URL names the user the users file creates (the cluster shares its users).
        let urls = try BrokerNodes.parse(try composeEnvironment("worker")["KG_AMQP_URLS"] ?? "")
        XCTAssertEqual(Set(urls.map(\.user)).count, 1)
        let url = urls[0]
        XCTAssertEqual(user["name"] as? String, url.user)
        XCTAssertEqual(user["password"] as? String, amqpPassword)
        XCTAssertEqual((users["permissions"] as? [[String: Any]])?.first?["vhost"] as? String, url.vhost)
        let postgres = try composeEnvironment("postgres")
        XCTAssertEqual(URLComponents(string: try composeEnvironment("worker")["KG_DATABASE_URL"] ?? "")?.user, postgres["POSTGRES_USER"])

        // Running it again keeps every secret.
        let again = try runCommand("/bin/bash", [script, dir], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(again.exitCode, 0, again.summary)
        XCTAssertEqual(try String(contentsOfFile: dir + "/amqp_password", encoding: .utf8).trimmingCharacters(in: .newlines), amqpPassword)
    }

    // MARK: systemd

    func testSystemdUnitsParseAndRunRealBinariesWithRealFlags() throws {
        let env = try DeployFiles.environmentFile("deploy/systemd/kg.env")
        let config = try load(env)
        for (unit, binary) in [("kg-gateway.service", "kg-gateway"), ("kg-worker@.service", "kg-worker")] {
            let lines = try DeployFiles.unit("deploy/systemd/\(unit)")
            func values(_ section: String, _ key: String) -> [String] { lines.filter { $0.section == section && $0.key == key }.map(\.value) }
            XCTAssertEqual(Set(lines.map(\.section)), ["Unit", "Service", "Install"], unit)
            XCTAssertEqual(values("Service", "User"), ["kg"], unit)
            XCTAssertEqual(values("Service", "Restart"), ["on-failure"], unit)
            XCTAssertEqual(values("Service", "EnvironmentFile"), ["/etc/kg/kg.env"], unit)
            for (key, value) in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"), ("CapabilityBoundingSet", "")] {
                XCTAssertEqual(values("Service", key), [value], "\(unit): \(key)")
            }
            // PrivateTmp gives each unit its own /tmp and /var/tmp: the shared temp folder must be elsewhere,
            // and writable under ProtectSystem=strict.
            XCTAssertFalse(config.tempDir.hasPrefix("/tmp/") || config.tempDir.hasPrefix("/var/tmp/"), config.tempDir)
            XCTAssertTrue(
                values("Service", "ReadWritePaths").contains { config.tempDir.hasPrefix($0 + "/") }, "\(unit): \(config.tempDir) not writable")

            // Secrets come through credentials, and each *_FILE variable names a loaded credential.
            let credentials = Set(values("Service", "LoadCredential").map { String($0.split(separator: ":")[0]) })
            for setting in values("Service", "Environment") {
                let pair = setting.split(separator: "=", maxSplits: 1).map(String.init)
                XCTAssertTrue(knownVariables().contains(pair[0]), "\(unit): unknown \(pair[0])")
                if pair[0].hasSuffix("_FILE") {
                    XCTAssertTrue(pair[1].hasPrefix("%d/") && credentials.contains(String(pair[1].dropFirst(3))), "\(unit): \(setting)")
                }
            }
            XCTAssertFalse(lines.contains { $0.value.contains("PASSWORD=") }, "\(unit): no password inline")

            // ExecStart* run the real binaries with flags they accept.
            for line in lines where line.key == "ExecStart" || line.key == "ExecStartPre" {
                var words = line.value.split(separator: " ").map(String.init)
                let executable = words.removeFirst()
                XCTAssertEqual(executable, "/usr/local/bin/\(binary)", unit)
                let subcommand = words.prefix { !$0.hasPrefix("-") }
                let help = try DeployFiles.help(binary, Array(subcommand))
                for flag in words.filter({ $0.hasPrefix("--") }) {
                    XCTAssertTrue(help.contains(flag + " "), "\(unit): `\(binary) \(subcommand.joined(separator: " "))` has no \(flag)")
                }
                if let at = words.firstIndex(of: "--config") {
                    let file = words[at + 1]
                    let local = "config/" + URL(fileURLWithPath: file).lastPathComponent
                    XCTAssertTrue(FileManager.default.fileExists(atPath: DeployFiles.path(local)), "\(unit): \(file) comes from \(local)")
                }
                if let at = words.firstIndex(of: "--grace"), let grace = Double(words[at + 1]) {
                    XCTAssertGreaterThan(Double(values("Service", "TimeoutStopSec").first ?? "0") ?? 0, grace, "\(unit): stop timeout ≤ grace")
                }
            }
        }
        try verifyWithSystemdAnalyze()
    }

    /// Issue 17: the scheduled backup (timer + oneshot service) runs the real `kg` with flags it accepts:
    /// a backup, then `kg admin forget`, with the token from a credential file, never inline.
    func testScheduledBackupUnitsRunTheRealCLIWithRealFlags() throws {
        let service = try DeployFiles.unit("deploy/systemd/kg-backup.service")
        let timer = try DeployFiles.unit("deploy/systemd/kg-backup.timer")
        func values(_ lines: [(section: String, key: String, value: String)], _ section: String, _ key: String) -> [String] {
            lines.filter { $0.section == section && $0.key == key }.map(\.value)
        }
        XCTAssertEqual(values(timer, "Timer", "Unit"), ["kg-backup.service"])
        XCTAssertEqual(values(timer, "Timer", "Persistent"), ["true"], "a run missed while the machine was off starts at boot")
        XCTAssertEqual(values(timer, "Timer", "OnCalendar").count, 1)
        XCTAssertEqual(values(timer, "Install", "WantedBy"), ["timers.target"])
        XCTAssertEqual(values(service, "Service", "Type"), ["oneshot"])
        XCTAssertFalse(values(service, "Install", "WantedBy").contains("multi-user.target"), "started by its timer only")

        // The token comes from a loaded credential through KG_TOKEN_FILE; no token inline.
        let credentials = Set(values(service, "Service", "LoadCredential").map { String($0.split(separator: ":")[0]) })
        let cliVariables: Set<String> = ["KG_API_URL", "KG_TOKEN_FILE", "KG_CACERT"]
        var environment: [String: String] = [:]
        for setting in values(service, "Service", "Environment") {
            let pair = setting.split(separator: "=", maxSplits: 1).map(String.init)
            environment[pair[0]] = pair[1]
            if pair[0].hasPrefix("KG_") { XCTAssertTrue(cliVariables.contains(pair[0]), "kg reads no \(pair[0])") }
        }
        let tokenFile = try XCTUnwrap(environment["KG_TOKEN_FILE"])
        XCTAssertTrue(tokenFile.hasPrefix("%d/") && credentials.contains(String(tokenFile.dropFirst(3))), tokenFile)
        XCTAssertNil(environment["KG_TOKEN"], "no token inline")

        // A backup, then forget; each with flags the real CLI accepts.
        let commands = values(service, "Service", "ExecStart").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(commands.map { Array($0.prefix(3)) }, [["/usr/local/bin/kg", "admin", "backup"], ["/usr/local/bin/kg", "admin", "forget"]])
        for words in commands {
            let help = try DeployFiles.help("kg", Array(words[1..<3]))
            for flag in words.filter({ $0.hasPrefix("--") }) {
                XCTAssertTrue(help.contains(flag + " "), "`kg \(words[1..<3].joined(separator: " "))` has no \(flag)")
            }
        }
        // The policy itself is one the CLI takes: a dry run on an empty backup_dir.
        let home = NSTemporaryDirectory() + "kg-backup-unit-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: home) }
        let forget = try runCommand(
            try TestEnvironment.binDir() + "/kg", Array(commands[1].dropFirst()) + ["--dry-run"],
            environment: [
                "PATH": "/usr/bin:/bin", "HOME": home, "XDG_CONFIG_HOME": home + "/config",
                "XDG_DATA_HOME": home,
            ])
        XCTAssertEqual(forget.exitCode, 0, forget.summary)
    }

    /// `systemd-analyze verify` where the machine has it, with the binaries at their build paths.
    private func verifyWithSystemdAnalyze() throws {
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else {
            // `make test` installs it (deploy/local/services.sh, package systemd): a missing one is a broken setup.
            return XCTFail("\(analyze) is missing: install the systemd package (deploy/local/services.sh install) to verify the unit files")
        }
        let dir = NSTemporaryDirectory() + "kg-units-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let binDir = try TestEnvironment.binDir()
        var names: [String] = []
        for unit in ["kg-gateway.service", "kg-worker@.service", "kg-backup.service", "kg-backup.timer"] {
            let text = try DeployFiles.text("deploy/systemd/\(unit)").replacingOccurrences(of: "/usr/local/bin/", with: binDir + "/")
            try text.write(toFile: dir + "/" + unit, atomically: true, encoding: .utf8)
            names.append(dir + "/" + unit)
        }
        let r = try runCommand(analyze, ["verify"] + names, environment: ["PATH": "/usr/bin:/bin", "SYSTEMD_LOG_LEVEL": "warning"])
        XCTAssertEqual(r.exitCode, 0, r.summary)
        XCTAssertEqual((r.stdout + r.stderr).trimmingCharacters(in: .whitespacesAndNewlines), "", "systemd-analyze verify: \(r.summary)")
    }

    // MARK: against a real gateway

    /// Every health check URL of compose and systemd is served (200) by a real gateway.
    func testHealthcheckPathsAreServedByARealGateway() throws {
        var paths: Set<String> = []
        for service in try DeployFiles.services(try DeployFiles.compose()).values {
            paths.formUnion(DeployFiles.healthcheckURLs(service).map(DeployFiles.urlPath))
        }
        for unit in ["kg-gateway.service", "kg-worker@.service"] {
            for line in try DeployFiles.unit("deploy/systemd/\(unit)") where line.key.hasPrefix("ExecStart") {
                paths.formUnion(
                    line.value.split(separator: " ").filter { $0.hasPrefix("http") }.map {
                        DeployFiles.urlPath($0.replacingOccurrences(of: "${KG_GATEWAY_PORT}", with: "8080"))
                    })
            }
        }
        XCTAssertFalse(paths.isEmpty, "no health check found")
        let stack = try TestStack(workers: 0)
        defer { stack.stop() }
        let client = HTTPClient(baseURL: stack.apiURL, token: nil)
        for path in paths.sorted() {
            let r = try client.request(method: "GET", path: path)
            XCTAssertEqual(r.status, 200, "GET \(path): \(String(decoding: r.body, as: UTF8.self))")
        }
    }
}
