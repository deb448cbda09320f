import ArgumentParser

/// `--config PATH` for the service executables; environment variables override the file.
public struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Config file (JSON); else KG_CONFIG. Environment variables override it.")
    public var config: String?

    public init() {}

    public func load() throws -> ServiceConfig {
        do {
            return try ServiceConfig.load(path: config)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
