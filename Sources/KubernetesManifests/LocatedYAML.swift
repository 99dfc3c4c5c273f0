import Yams

/// A YAML node that knows where it came from, so every accessor can fail with file, line and field path.
///
/// The manifests loader and the agent's config file share it. Accessors named after a key (`string("x")`)
/// return nil when the key is absent or null; `as...()` convert the node itself. JSON is YAML, so both work.
public struct LocatedYAML {
    public let node: Node
    /// The file name used in errors.
    public let file: String
    /// The field path from the document root, such as `spec.ports[1]`; empty at the root.
    public let path: String
    /// The work budget of the text this node came from, shared by every node of it.
    public let budget: YAMLBudget

    /// A node with its own budget; nodes made by hand get an unlimited one.
    public init(node: Node, file: String, path: String = "", budget: YAMLBudget = .unlimited()) {
        self.node = node
        self.file = file
        self.path = path
        self.budget = budget
    }

    /// A node below this one, sharing its budget.
    private func child(_ node: Node, path: String) -> LocatedYAML {
        LocatedYAML(node: node, file: file, path: path, budget: budget)
    }

    /// Parses a stream of documents (`---`), dropping empty ones.
    public static func parseAll(_ text: String, file: String) throws(ManifestError) -> [LocatedYAML] {
        var documents: [LocatedYAML] = []
        try forEachDocument(text, file: file) { documents.append($0) }
        return documents
    }

    /// Calls `body` with each non-empty document as soon as it is parsed, so only one document's nodes are
    /// in memory at a time (a node tree takes some 25 times its text). Documents before a syntax error have
    /// been passed to `body` when the error is thrown.
    ///
    /// The text is checked first (`YAMLPrescan`: no alias in a mapping key, bounded nesting), and all its
    /// documents share one `YAMLBudget` sized to the text.
    /// - Throws: a syntax or prescan error; or the budget error, right after the document that spent it.
    public static func forEachDocument(
        _ text: String,
        file: String,
        _ body: (LocatedYAML) -> Void
    ) throws(ManifestError) {
        try YAMLPrescan.check(text, file: file)
        let budget = YAMLBudget(textBytes: text.utf8.count)
        do {
            // The sequence keeps a parse error instead of throwing it: check after reading.
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() {
                let doc = LocatedYAML(node: node, file: file, budget: budget)
                if !doc.isNull { body(doc) }
                if let exhaustion = budget.exhaustion { throw exhaustion }
            }
            if let error = sequence.error { throw error }
        } catch let error as ManifestError {
            throw error
        } catch {
            throw syntaxError(error, file: file)
        }
    }

    /// Parses exactly one document; an empty text is an empty mapping.
    public static func parse(_ text: String, file: String) throws(ManifestError) -> LocatedYAML {
        let docs = try parseAll(text, file: file)
        guard docs.count <= 1 else {
            throw ManifestError(file: file, line: docs[1].line, field: "", message: "expected one YAML document")
        }
        return docs.first ?? LocatedYAML(node: .mapping(Node.Mapping([])), file: file, budget: YAMLBudget(textBytes: 0))
    }

    /// The 1-based line where the node starts.
    public var line: Int { node.mark?.line ?? 1 }

    /// An error at this node.
    public func error(_ message: String) -> ManifestError {
        ManifestError(file: file, line: line, field: path, message: message)
    }

    /// Whether the node is YAML null (`~`, `null`, or nothing after the colon).
    public var isNull: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The path of a mapping key below this node: `spec.ports`, or `metadata.annotations[ipvsd.io/weight]`
    /// for keys that are not plain identifiers.
    public func path(of key: String) -> String {
        let plain = !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        if !plain { return "\(path)[\(key)]" }
        return path.isEmpty ? key : "\(path).\(key)"
    }

    // MARK: Converting this node

    /// A short rendering of the node for messages: `"eighty"`, `70000`, `a mapping`.
    public var rendered: String {
        switch node {
        case .scalar(let scalar):
            if isNull { return "null" }
            if isPlainNonString { return scalar.string }
            return "\"\(scalar.string)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    private var isPlainNonString: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return isNull || Int(scalar.string) != nil || Double(scalar.string) != nil
            || ["true", "false", "True", "False", "TRUE", "FALSE"].contains(scalar.string)
    }

    /// The node as a string; numbers, booleans and null are refused, as the Kubernetes API does.
    public func asString() throws(ManifestError) -> String {
        guard case .scalar(let scalar) = node, !isPlainNonString else {
            throw error("must be a string, got \(rendered)")
        }
        return scalar.string
    }

    /// The node as an integer, optionally within `range`.
    public func asInt(in range: ClosedRange<Int>? = nil) throws(ManifestError) -> Int {
        let expected = range.map { "must be an integer \($0.lowerBound)...\($0.upperBound)" } ?? "must be an integer"
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any,
            let value = Int(scalar.string), range?.contains(value) ?? true
        else { throw error("\(expected), got \(rendered)") }
        return value
    }

    /// The node as a boolean (`true` or `false`).
    public func asBool() throws(ManifestError) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any {
            switch scalar.string {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        throw error("must be true or false, got \(rendered)")
    }

    /// The node as a Go-style duration string such as `500ms`, `2s`, `1m30s`.
    public func asDuration() throws(ManifestError) -> Duration {
        let text = try asString()
        guard let duration = GoDuration.parse(text) else {
            throw error("must be a duration such as 500ms, 2s or 1m, got \(rendered)")
        }
        return duration
    }

    /// The node's entries, in document order; keys must be strings.
    public func asMapping() throws(ManifestError) -> [(key: String, value: LocatedYAML)] {
        guard case .mapping(let mapping) = node else { throw error("must be a mapping, got \(rendered)") }
        try budget.spend(mapping.count, at: self)
        var entries: [(key: String, value: LocatedYAML)] = []
        for (keyNode, valueNode) in mapping {
            let keyDoc = child(keyNode, path: path)
            let key = try keyDoc.asString()
            entries.append((key, child(valueNode, path: path(of: key))))
        }
        return entries
    }

    /// The node's elements, each with its index in the path.
    public func asList() throws(ManifestError) -> [LocatedYAML] {
        guard case .sequence(let sequence) = node else { throw error("must be a list, got \(rendered)") }
        try budget.spend(sequence.count, at: self)
        return sequence.enumerated().map { child($1, path: "\(path)[\($0)]") }
    }

    // MARK: Reading keys of this mapping

    /// The value under `key`, or nil when it is absent or null (or this node is not a mapping, or the budget
    /// is spent: `forEachDocument` then fails with the budget error).
    public subscript(key: String) -> LocatedYAML? {
        // Yams looks a key up by comparing it with every key of the mapping.
        guard case .mapping(let mapping) = node, budget.charge(mapping.count, at: self), let value = mapping[key]
        else { return nil }
        let child = child(value, path: path(of: key))
        return child.isNull ? nil : child
    }

    /// The value under `key`, or an `is required` error at this mapping's line.
    public func required(_ key: String) throws(ManifestError) -> LocatedYAML {
        guard let child = self[key] else {
            throw ManifestError(file: file, line: line, field: path(of: key), message: "is required")
        }
        return child
    }

    public func string(_ key: String) throws(ManifestError) -> String? { try self[key]?.asString() }
    public func int(_ key: String, in range: ClosedRange<Int>? = nil) throws(ManifestError) -> Int? {
        try self[key]?.asInt(in: range)
    }
    public func bool(_ key: String) throws(ManifestError) -> Bool? { try self[key]?.asBool() }
    public func duration(_ key: String) throws(ManifestError) -> Duration? { try self[key]?.asDuration() }
    public func list(_ key: String) throws(ManifestError) -> [LocatedYAML]? { try self[key]?.asList() }

    /// The mapping under `key`, checked to be a mapping.
    public func mapping(_ key: String) throws(ManifestError) -> LocatedYAML? {
        guard let child = self[key] else { return nil }
        _ = try child.asMapping()
        return child
    }

    /// An `unknown field` error for every key of this mapping outside `allowed` (typos in config files).
    public func unknownKeys(allowed: Set<String>) -> [ManifestError] {
        guard let entries = try? asMapping() else { return [] }
        return entries.filter { !allowed.contains($0.key) }.map { $0.value.errorAtKey("unknown field") }
    }

    private func errorAtKey(_ message: String) -> ManifestError { error(message) }

    private static func syntaxError(_ error: any Error, file: String) -> ManifestError {
        guard let yamlError = error as? YamlError else {
            return ManifestError(file: file, line: nil, field: "", message: "\(error)")
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text), " } ?? ""
            return ManifestError(file: file, line: mark.line, field: "", message: "invalid YAML: \(prefix)\(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().joined(separator: ", ")
            return ManifestError(
                file: file,
                line: context.mark.line,
                field: "",
                message: "duplicate key in mapping: \(keys)"
            )
        default:
            return ManifestError(file: file, line: nil, field: "", message: "invalid YAML: \(yamlError)")
        }
    }
}
