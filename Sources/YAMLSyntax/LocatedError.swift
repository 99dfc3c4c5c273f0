/// One problem in an input file: where it is (file, line, field path) and what is wrong.
///
/// The one located error of every file read through `LocatedYAML`: manifests collect them in
/// `ManifestErrors`, the agent's config file in `ConfigurationErrors`, a kubeconfig throws one.
public struct LocatedError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file as it was named to the loader.
    public var file: String
    /// The 1-based line, or nil when the problem concerns the whole file (unreadable, not YAML).
    public var line: Int?
    /// The field path inside the document, such as `spec.ports[1].port`; empty for the document itself.
    public var field: String
    public var message: String

    public init(file: String, line: Int?, field: String, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    /// `services.yaml:14: spec.ports[1].port: must be an integer 1...65535, got "eighty"`.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if !field.isEmpty { text += ": \(field)" }
        return text + ": " + message
    }
}
