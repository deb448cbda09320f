import ArgumentParser
import Foundation
import KGClient

extension Admin {
    /// `kg admin stitch --pending [--json]`: what `--external-deps defer` kept aside
    /// and is still waiting for its concepts.
    struct Stitch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report the links kept aside by --external-deps defer that still wait for their concepts.",
            discussion: """
                A restore with --external-deps defer keeps instance links and relationships that name missing \
                concepts aside; every later restore connects those whose concepts have arrived. --pending shows \
                what still waits, and for which concepts. (Stitching to existing concepts by id, label or \
                embedding is not available yet.)
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        @Flag(name: .long, help: "Report what is still waiting (the only mode available so far).")
        var pending = false

        func validate() throws {
            guard pending else {
                throw ValidationError("only `kg admin stitch --pending` is available so far: stitching to existing concepts is not implemented yet")
            }
        }

        func run() throws {
            let response = try JobCommand.fetch(global.client(try global.config()), "GET", "/admin/pending")
            if output.json {
                print(String(decoding: response.body, as: UTF8.self))
                return
            }
            struct Waiting: Decodable {
                struct Concept: Decodable {
                    let concept_id: String
                    let instances: Int
                    let relationships: Int
                }
                let instances: Int
                let relationships: Int
                let missing_concepts: [Concept]
            }
            let waiting = try response.decodeJSON(Waiting.self)
            if waiting.instances + waiting.relationships == 0 {
                print("nothing is waiting: every deferred link has been connected")
                return
            }
            print("waiting: \(Terminal.grouped(waiting.instances)) instance link(s), \(Terminal.grouped(waiting.relationships)) relationship(s), "
                + "for these concepts (restore the ontologies that hold them):")
            for concept in waiting.missing_concepts {
                print("  \(concept.concept_id)  \(concept.instances) instance link(s), \(concept.relationships) relationship(s)")
            }
        }
    }
}
