import ArgumentParser
import Foundation
import KGDatabase
import KGFormat
import KGSample
import KGWorker

@main
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kg-sample",
        abstract: "Sample graphs for the demo, the tests and the benchmark.",
        subcommands: [Load.self, Fixture.self, DataFirst.self],
        defaultSubcommand: Load.self)
}

struct SpecOptions: ParsableArguments {
    @Option(help: "Number of concepts; sources, instances and relationships scale with it.")
    var concepts = 200

    @Option(help: "Number of ontologies (documents).")
    var ontologies = 3

    @Option(help: "Embedding dimensions per concept.")
    var dimensions = 1536

    @Option(help: "Random seed: the same seed gives the same graph.")
    var seed: UInt64 = 42

    @Option(help: "Number of sources (default: half the concepts).")
    var sources: Int?

    @Option(help: "Number of relationships (default: three per concept).")
    var relationships: Int?

    @Option(help: "Id style: sequential (concept_000042) or uuid (36-character UUID-style ids).")
    var idStyle: String = SampleGraphSpec.IDStyle.sequential.rawValue

    func validate() throws {
        guard SampleGraphSpec.IDStyle(rawValue: idStyle) != nil else {
            throw ValidationError("--id-style must be one of: \(SampleGraphSpec.IDStyle.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    var spec: SampleGraphSpec {
        SampleGraphSpec(
            concepts: concepts, ontologies: ontologies, embeddingDimensions: dimensions, seed: seed,
            sources: sources, relationships: relationships, idStyle: SampleGraphSpec.IDStyle(rawValue: idStyle) ?? .sequential)
    }
}

extension SampleCommand {
    /// Replaces the graph with a generated one.
    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the graph with a deterministic sample graph.",
            discussion:
                "Deletes every concept, source, instance, relationship, ontology and custom relationship type, then loads a generated graph in one transaction."
        )

        @Option(help: "PostgreSQL URL (default: KG_DATABASE_URL).")
        var databaseURL: String?

        @OptionGroup var options: SpecOptions

        func run() throws {
            guard let url = databaseURL ?? ProcessInfo.processInfo.environment["KG_DATABASE_URL"] else {
                throw ValidationError("no database: pass --database-url or set KG_DATABASE_URL (make up writes it to .kg-local/env)")
            }
            let db = try PGConnection(url: url, applicationName: "kg-sample")
            let version = try MigrationRunner(connection: db).currentVersion()
            let started = Date()
            let stats = try SampleGraphLoader(spec: options.spec, schemaVersion: version).load(into: db)
            print("loaded sample graph: \(stats) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
    }

    /// Writes a backup file as a database at an older schema version would have:
    /// a scratch database migrated only up to that version, a sample graph in
    /// that version's shape, and the worker's own export.
    struct Fixture: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a backup file at an older schema version (test fixtures).")

        @Option(help: "PostgreSQL superuser URL (default: KG_ADMIN_DATABASE_URL), to create and drop a scratch database.")
        var adminDatabaseURL: String?

        @Option(help: "Role that owns the scratch database.")
        var owner = "kg"

        @Option(help: "Migrate the scratch database up to this version only.")
        var schemaVersion: Int

        @Option(help: "Migrations folder (default: KG_MIGRATIONS_DIR or schema/migrations).")
        var migrationsDir: String?

        @Option(help: "Where to write the backup.")
        var output: String

        @Option(help: "Back up this ontology instead of the whole graph.")
        var ontology: String?

        @OptionGroup var options: SpecOptions

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            guard let adminURL = adminDatabaseURL ?? env["KG_ADMIN_DATABASE_URL"] else {
                throw ValidationError("pass --admin-database-url or set KG_ADMIN_DATABASE_URL")
            }
            let name = "kg_fixture_\(UInt32.random(in: 0...UInt32.max))"
            let admin = try PGConnection(url: adminURL, applicationName: "kg-sample")
            try admin.execute("CREATE DATABASE \(name) OWNER \(owner)")
            defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
            guard var components = URLComponents(string: adminURL) else { throw ValidationError("unparsable URL") }
            components.path = "/\(name)"
            components.user = owner
            components.password = nil
            let db = try PGConnection(url: components.string!, applicationName: "kg-sample")
            defer { db.close() }
            let migrations = try Migration.load(from: migrationsDir ?? env["KG_MIGRATIONS_DIR"] ?? "schema/migrations")
            try MigrationRunner(connection: db).migrate(migrations, upTo: schemaVersion)
            let version = try MigrationRunner(connection: db).currentVersion()
            guard version == schemaVersion else { throw ValidationError("no migration \(schemaVersion) (database is at \(version))") }
            try SampleGraphLoader(spec: options.spec, schemaVersion: version).load(into: db)
            unlink(output)
            let result = try BackupExport.write(db: db, to: output, type: ontology == nil ? .full : .ontology, ontology: ontology)
            print("wrote \(output): schema v\(result.schemaVersion), \(result.bytes) bytes, \(result.statistics)")
        }
    }
}
