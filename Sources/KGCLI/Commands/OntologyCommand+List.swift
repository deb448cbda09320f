import ArgumentParser
import Foundation
import KGClient

extension OntologyCommand {
    /// `kg ontology list [--json]`.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the ontologies with their sources, instances and concepts (any signed-in user).",
            discussion: """
                `concepts` counts the concepts an ontology's instances evidence (a concept may count in several). \
                --json prints the gateway's {"ontologies": [{"name", "created_at", "sources", "instances", "concepts"}, …]}.

                EXAMPLES:
                  kg ontology list
                  kg ontology list --json | jq -r '.ontologies[].name'
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let response = try JobCommand.fetch(try global.client(try global.config()), "GET", "/ontologies")
            if output.json {
                print(String(decoding: response.body, as: UTF8.self))
                return
            }
            struct Entry: Decodable {
                let name: String
                let created_at: String?
                let sources: Int
                let instances: Int
                let concepts: Int
            }
            struct Body: Decodable { let ontologies: [Entry] }
            let entries = try response.decodeJSON(Body.self).ontologies
            if entries.isEmpty {
                Terminal.error("no ontologies: the graph is empty")
                return
            }
            print(
                TextTable.render(
                    header: ["SOURCES", "INSTANCES", "CONCEPTS", "CREATED (UTC)", "ONTOLOGY"],
                    rows: entries.map {
                        [
                            Terminal.grouped($0.sources), Terminal.grouped($0.instances), Terminal.grouped($0.concepts),
                            TextTable.time($0.created_at), $0.name,
                        ]
                    }))
        }
    }
}
