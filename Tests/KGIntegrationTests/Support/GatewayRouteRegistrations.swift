import Foundation

/// The routes the gateway registers, read from its sources (`Sources/KGGateway`):
/// every `router.<method>("<path>")` call, as "METHOD /path" with Hummingbird's
/// parameter syntax (`/jobs/:id`). The integration tests cannot build the
/// gateway's router in-process (the target does not link KGGateway), so they read
/// the registrations; a registration this reader cannot understand (a path that is
/// not a literal, `router.on`, a route group) is an error, not a route left out.
enum GatewayRouteRegistrations {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/KGGateway")

    static let methods = ["get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH", "delete": "DELETE", "head": "HEAD"]

    static func read() throws -> Set<String> {
        guard let files = FileManager.default.enumerator(atPath: sources.path) else {
            throw StackError("cannot list \(sources.path)")
        }
        let call = try NSRegularExpression(pattern: #"\brouter\s*\.\s*([A-Za-z_]+)\s*\(\s*("([^"\\]*)")?"#)
        var routes: Set<String> = []
        var unreadable: [String] = []
        for case let file as String in files where file.hasSuffix(".swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = String(line)
                if code.trimmingCharacters(in: .whitespaces).hasPrefix("//") { continue }
                let range = NSRange(code.startIndex..., in: code)
                for match in call.matches(in: code, range: range) {
                    let name = String(code[Range(match.range(at: 1), in: code)!])
                    if name == "add", code.contains("router.add(middleware:") { continue }
                    guard let method = methods[name], let pathRange = Range(match.range(at: 3), in: code) else {
                        unreadable.append("\(file):\(number + 1): \(code.trimmingCharacters(in: .whitespaces))")
                        continue
                    }
                    routes.insert("\(method) \(code[pathRange])")
                }
            }
        }
        guard unreadable.isEmpty else {
            throw StackError(
                "route registrations this test cannot read (give them a literal path, or teach "
                    + "GatewayRouteRegistrations): \(unreadable.joined(separator: "; "))")
        }
        guard !routes.isEmpty else { throw StackError("no route registrations found under \(sources.path)") }
        return routes
    }
}
