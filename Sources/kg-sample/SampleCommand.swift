import ArgumentParser
import Foundation
import KGDatabase
import KGSample

/// Loads a deterministic sample graph into the database (demo, tests, benchmarks).
@main
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kg-sample",
        abstract: "Replace the graph with a deterministic sample graph.",
        discussion: "Deletes every concept, source, instance, relationship, ontology and custom relationship type, then loads a generated graph in one transaction.")

    @Option(help: "PostgreSQL URL (default: KG_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Number of concepts; sources, instances and relationships scale with it.")
    var concepts = 200

    @Option(help: "Number of ontologies (documents).")
    var ontologies = 3

    @Option(help: "Embedding dimensions per concept.")
    var dimensions = 1536

    @Option(help: "Random seed: the same seed gives the same graph.")
    var seed: UInt64 = 42

    func run() throws {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["KG_DATABASE_URL"] else {
            throw ValidationError("no database: pass --database-url or set KG_DATABASE_URL (make up writes it to .kg-local/env)")
        }
        let db = try PGConnection(url: url, applicationName: "kg-sample")
        let spec = SampleGraphSpec(concepts: concepts, ontologies: ontologies, embeddingDimensions: dimensions, seed: seed)
        let started = Date()
        let stats = try SampleGraphLoader(spec: spec).load(into: db)
        print("loaded sample graph: \(stats) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}


