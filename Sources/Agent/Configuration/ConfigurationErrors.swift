import KubernetesManifests

/// Every problem found in a config file, each naming its file, line and key, so one run shows them all.
///
/// Its own type rather than the manifests' ``ManifestErrors``: a config file is not a manifest, and callers
/// (ipvsd, tests) tell the two apart. Each entry is still a located ``ManifestError``, because the config is
/// read with the same located YAML layer as the manifests.
public struct ConfigurationErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [ManifestError]

    public init(_ errors: [ManifestError]) { self.errors = errors }

    /// One error per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
