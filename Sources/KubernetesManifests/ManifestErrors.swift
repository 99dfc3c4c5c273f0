import YAMLSyntax

/// Every problem found in one load or build, in input order.
public struct ManifestErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [LocatedError]

    public init(_ errors: [LocatedError]) { self.errors = errors }

    /// One error per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
