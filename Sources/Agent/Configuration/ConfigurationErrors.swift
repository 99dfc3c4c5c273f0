import YAMLSyntax

/// Every problem found in a config file, each naming its file, line and key, so one run shows them all.
///
/// Its own type rather than the manifests' `ManifestErrors`: a config file is not a manifest, and callers
/// (ipvsd, tests) tell the two apart. Each entry is a `LocatedError` (YAMLSyntax), the error of the located
/// YAML layer that configuration and manifests both read with.
public struct ConfigurationErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [LocatedError]

    public init(_ errors: [LocatedError]) { self.errors = errors }

    /// One error per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
