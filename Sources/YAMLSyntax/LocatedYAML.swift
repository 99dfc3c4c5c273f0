import Yams

/// A YAML node that knows where it came from, so every accessor can fail with file, line and field path.
///
/// The manifests loader and the agent's config file share it. Accessors named after a key (`string("x")`)
/// return nil when the key is absent or null; `as...()` convert the node itself. JSON is YAML, so both work.
public struct LocatedYAML {
    /// What every node of one document shares: the tree, the file name, where paths are counted from, and
    /// the budget. One reference per node instead of four: copying and dropping nodes (every key lookup
    /// returns one) was a tenth of decoding an API list page, in retains and releases.
    final class Document {
        /// The document this node is part of.
        let tree: YAMLTree
        /// The file name used in errors.
        let file: String
        /// The node paths are counted from (the document's root, or where `renamed(file:)` was called) and
        /// the path given to it. A node's own path is found from there only when asked (in practice, for an
        /// error message): joined on every read, paths cost a tenth of decoding an API page, and no message
        /// used them.
        let base: Int32
        let basePath: String
        /// The work budget of the text this document came from, shared by every document of it.
        let budget: YAMLBudget

        init(tree: YAMLTree, file: String, base: Int32, basePath: String, budget: YAMLBudget) {
            self.tree = tree
            self.file = file
            self.base = base
            self.basePath = basePath
            self.budget = budget
        }
    }

    let document: Document
    /// The node's index in the document's tree.
    let index: Int32

    var tree: YAMLTree { document.tree }
    /// The file name used in errors.
    public var file: String { document.file }
    /// The work budget of the text this node came from, shared by every node of it.
    public var budget: YAMLBudget { document.budget }

    init(tree: YAMLTree, index: Int32, file: String, path: String, budget: YAMLBudget) {
        self.init(Document(tree: tree, file: file, base: index, basePath: path, budget: budget), index)
    }

    private init(_ document: Document, _ index: Int32) {
        self.document = document
        self.index = index
    }

    /// A copy of a Yams node made by hand, with its own budget (unlimited unless given). Its nodes have no
    /// line (Yams' marks cannot be copied): errors name line 1.
    public init(node: Node, file: String, path: String = "", budget: YAMLBudget = .unlimited()) {
        let tree = YAMLTree(node)
        self.init(tree: tree, index: tree.root, file: file, path: path, budget: budget)
    }

    /// An empty mapping, for a section that is absent.
    public static func emptyMapping(file: String, path: String = "") -> LocatedYAML {
        LocatedYAML(node: .mapping(Node.Mapping([])), file: file, path: path)
    }

    /// This node as a Yams node (a copy: prefer the accessors, which are faster and keep the line).
    public var node: Node { tree.yamsNode(index) }

    /// This node as the root of a document named `file`: errors below it name that file and paths start
    /// here. It shares the budget.
    public func renamed(file: String) -> LocatedYAML {
        LocatedYAML(tree: tree, index: index, file: file, path: "", budget: budget)
    }

    /// A node below this one, sharing its document.
    private func child(_ index: Int32) -> LocatedYAML { LocatedYAML(document, index) }

    /// The field path from the document root, such as `spec.ports[1]`; empty at the root. A mapping key's
    /// path is its mapping's. A node reached through an alias is named where its anchor is.
    public var path: String {
        var path = document.basePath
        for step in tree.steps(from: document.base, to: index) {
            switch step {
            case .key(let key): path = Self.path(path, key)
            case .index(let position): path += "[\(position)]"
            }
        }
        return path
    }

    /// Parses a stream of documents (`---`), dropping empty ones.
    public static func parseAll(_ text: String, file: String) throws(LocatedError) -> [LocatedYAML] {
        var documents: [LocatedYAML] = []
        try forEachDocument(text, file: file) { documents.append($0) }
        return documents
    }

    /// Calls `body` with each non-empty document as soon as it is parsed, so only one document's nodes are
    /// in memory at a time (a node tree takes some 25 times its text). Documents before a syntax error have
    /// been passed to `body` when the error is thrown.
    ///
    /// `YAMLComposer` refuses an alias in a mapping key and deep nesting as it composes, like a syntax
    /// error: documents before one have been passed to `body`. All the documents share one `YAMLBudget`
    /// sized to the text. `firstLine` is the line `text` starts on when it is a part of a file.
    /// - Throws: a syntax error; or the budget error, right after the document that spent it.
    public static func forEachDocument(
        _ text: String,
        file: String,
        firstLine: Int = 1,
        _ body: (LocatedYAML) -> Void
    ) throws(LocatedError) {
        try forEachDocument(text[...], file: file, firstLine: firstLine, body)
    }

    /// The same, for a part of a text (``YAMLDocumentParts``), read in place: a copy of each part held a
    /// second copy of a large file's text while it was parsed.
    public static func forEachDocument(
        _ text: Substring,
        file: String,
        firstLine: Int = 1,
        _ body: (LocatedYAML) -> Void
    ) throws(LocatedError) {
        try checkSize(text, file: file)
        let budget = YAMLBudget(textBytes: text.utf8.count)
        func compose(_ bytes: UnsafeBufferPointer<UInt8>) -> LocatedError? {
            var composer = YAMLComposer(bytes, file: file, firstLine: firstLine)
            do throws(LocatedError) {
                while let tree = try composer.next() {
                    let doc = LocatedYAML(tree: tree, index: tree.root, file: file, path: "", budget: budget)
                    if !doc.isNull { body(doc) }
                    if let exhaustion = budget.exhaustion { throw exhaustion }
                }
                return nil
            } catch {
                return error
            }
        }
        var text = text
        if let error = text.withUTF8(compose) { throw error }
    }

    /// Parses exactly one document; an empty text is an empty mapping.
    public static func parse(_ text: String, file: String) throws(LocatedError) -> LocatedYAML {
        let docs = try parseAll(text, file: file)
        guard docs.count <= 1 else {
            throw LocatedError(file: file, line: docs[1].line, field: "", message: "expected one YAML document")
        }
        return docs.first ?? emptyMapping(file: file)
    }

    /// Parses one JSON text (`JSONComposer`: strict RFC 8259, far faster than reading it as YAML) into the
    /// same nodes a YAML parse of it gives, with a budget sized to the text.
    public static func parseJSON(_ text: String, file: String) throws(LocatedError) -> LocatedYAML {
        try checkSize(text, file: file)
        var text = text
        let composed = text.withUTF8 { bytes -> Result<YAMLTree, LocatedError> in
            do throws(LocatedError) { return .success(try JSONComposer.compose(bytes, file: file)) } catch {
                return .failure(error)
            }
        }
        let tree = try composed.get()
        return LocatedYAML(
            tree: tree,
            index: tree.root,
            file: file,
            path: "",
            budget: YAMLBudget(textBytes: text.utf8.count)
        )
    }

    /// The longest text composed: a tree's offsets are 32-bit. Every input has a smaller bound of its own (an
    /// API page or a manifest file 64 MiB, a kubeconfig 1 MiB); this one keeps a file without one (the
    /// config) from reaching them.
    public static let maxTextBytes = 1 << 30

    private static func checkSize(_ text: some StringProtocol, file: String) throws(LocatedError) {
        guard text.utf8.count <= maxTextBytes else {
            throw LocatedError(file: file, line: nil, field: "", message: "larger than \(maxTextBytes >> 20) MiB")
        }
    }

    /// The 1-based line where the node starts.
    public var line: Int { Int(tree.node(index).line) }

    /// An error at this node.
    public func error(_ message: String) -> LocatedError {
        LocatedError(file: file, line: line, field: path, message: message)
    }

    /// Whether the node is YAML null (`~`, `null`, or nothing after the colon).
    public var isNull: Bool {
        guard tree.isPlainScalar(index) else { return false }
        switch tree.node(index).count {
        case 0: return true
        case 1: return tree.scalarEquals(index, "~")
        case 4:
            return tree.scalarEquals(index, "null") || tree.scalarEquals(index, "Null")
                || tree.scalarEquals(index, "NULL")
        default: return false
        }
    }

    /// The text of a scalar node, as written (nil for a collection).
    public var scalarText: String? { tree.node(index).kind == .scalar ? tree.string(index) : nil }

    /// Whether the node is a scalar written plain, unquoted: only those can be numbers, booleans or null.
    public var isPlainScalar: Bool { tree.isPlainScalar(index) }

    /// The path of a mapping key below this node: `spec.ports`, or `metadata.annotations[ipvsd.io/weight]`
    /// for keys that are not plain identifiers.
    public func path(of key: String) -> String { Self.path(path, key) }

    private static func path(_ path: String, _ key: String) -> String {
        let plain = !key.isEmpty && isIdentifier(key)
        if !plain { return "\(path)[\(key)]" }
        return path.isEmpty ? key : "\(path).\(key)"
    }

    private static func isIdentifier(_ key: String) -> Bool {
        var ascii = true
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            case 0x80...: ascii = false
            default: return false
            }
        }
        return ascii || key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
    }

    // MARK: Converting this node

    /// A short rendering of the node for messages: `"eighty"`, `70000`, `a mapping`.
    public var rendered: String {
        switch tree.node(index).kind {
        case .scalar:
            let text = tree.string(index)
            if isNull { return "null" }
            if isPlainNonString { return text }
            return "\"\(text)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// Whether the node is null, a number (what `Int(_:)` or `Double(_:)` accepts) or a boolean written
    /// plain. Every string field read asks; its bytes settle most texts (names, addresses) without making a
    /// String, and only texts that may be numbers go to `Int(_:)` and `Double(_:)`.
    private var isPlainNonString: Bool {
        guard tree.isPlainScalar(index) else { return false }
        if isNull { return true }
        return tree.withBytes(of: index) { Self.isNumberOrBoolean($0) }
    }

    /// Whether plain scalar text, given as bytes, is one of YAML's six boolean spellings, what `Int(_:)`
    /// accepts, or what `Double(_:)` accepts from a text whose first byte may start a number. The checks made
    /// before the String is made answer only "no", and only where both parsers would.
    static func isNumberOrBoolean(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = bytes.first else { return false }
        for spelling in Self.booleanSpellings where spelling.elementsEqual(bytes) { return true }
        // Double reads decimal and hex floats (at most one dot) and inf, infinity and nan in any case, after
        // an optional sign; Int reads only a sign and digits. Texts starting otherwise are neither.
        guard Self.mayBeNumber(first) else { return false }
        if bytes.lazy.filter({ $0 == UInt8(ascii: ".") }).count > 1 { return false }
        let unsigned = first == UInt8(ascii: "+") || first == UInt8(ascii: "-") ? bytes.dropFirst() : bytes[...]
        if let letter = unsigned.first, letter | 0x20 == UInt8(ascii: "i") || letter | 0x20 == UInt8(ascii: "n") {
            let word = unsigned.prefix(3).map { $0 | 0x20 }
            guard word.elementsEqual("inf".utf8) || word.elementsEqual("nan".utf8) else { return false }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return Int(text) != nil || Double(text) != nil
    }

    private static let booleanSpellings: [[UInt8]] = ["true", "false", "True", "False", "TRUE", "FALSE"].map {
        Array($0.utf8)
    }

    /// False for first bytes `Double(_:)` surely refuses: neither a digit, sign or dot, nor the first letter
    /// of `inf`, `infinity`, `nan` (any case); a hex float starts with a digit (`0x`).
    private static func mayBeNumber(_ first: UInt8) -> Bool {
        switch first | 0x20 {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+") | 0x20, UInt8(ascii: "-") | 0x20,
            UInt8(ascii: ".") | 0x20, UInt8(ascii: "i"), UInt8(ascii: "n"):
            return true
        default:
            return first <= 0x20  // leading white space, in case the parser skips it
        }
    }

    /// The node as a string; numbers, booleans and null are refused, as the Kubernetes API does.
    public func asString() throws(LocatedError) -> String {
        guard isString else { throw notAString }
        return tree.string(index)
    }

    /// Whether ``asString()`` would succeed, without making the String.
    private var isString: Bool { tree.node(index).kind == .scalar && !isPlainNonString }

    private var notAString: LocatedError { error("must be a string, got \(rendered)") }

    /// The node as an integer, optionally within `range`.
    public func asInt(in range: ClosedRange<Int>? = nil) throws(LocatedError) -> Int {
        let expected = range.map { "must be an integer \($0.lowerBound)...\($0.upperBound)" } ?? "must be an integer"
        guard tree.isPlainScalar(index), let value = Int(tree.string(index)), range?.contains(value) ?? true
        else { throw error("\(expected), got \(rendered)") }
        return value
    }

    /// The node as a boolean (`true` or `false`).
    public func asBool() throws(LocatedError) -> Bool {
        if tree.isPlainScalar(index) {
            switch tree.string(index) {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        throw error("must be true or false, got \(rendered)")
    }

    /// The node as a Go-style duration string such as `500ms`, `2s`, `1m30s`.
    public func asDuration() throws(LocatedError) -> Duration {
        let text = try asString()
        guard let duration = GoDuration.parse(text) else {
            throw error("must be a duration such as 500ms, 2s or 1m, got \(rendered)")
        }
        return duration
    }

    /// The node's entries, in document order; keys must be strings (``checkMapping()``).
    public func asMapping() throws(LocatedError) -> [(key: String, value: LocatedYAML)] {
        try checkMapping()
        let mapping = tree.node(index)
        return (0..<Int(mapping.count / 2)).map { entry in
            // Checked above: each key is a scalar whose text is a string.
            (tree.string(tree.member(mapping, 2 * entry)), child(tree.member(mapping, 2 * entry + 1)))
        }
    }

    /// Checks that the node is a mapping whose keys are strings, and spends its entries from the budget,
    /// without building its entries: for a decoder that reads the mapping key by key (building them for
    /// every endpoint of a list page, only to drop them, was a tenth of decoding it).
    public func checkMapping() throws(LocatedError) {
        let mapping = tree.node(index)
        guard mapping.kind == .mapping else { throw error("must be a mapping, got \(rendered)") }
        let count = Int(mapping.count / 2)
        try budget.spend(count, at: self)
        for entry in 0..<count {
            let key = tree.member(mapping, 2 * entry)
            // A quoted scalar (every JSON key) is a string; anything else gets asString's own verdict.
            let quoted = tree.node(key).kind == .scalar && !tree.isPlainScalar(key)
            if !quoted, case let child = child(key), !child.isString { throw child.notAString }
        }
    }

    /// The node's elements, each with its index in the path.
    public func asList() throws(LocatedError) -> [LocatedYAML] {
        let sequence = tree.node(index)
        guard sequence.kind == .sequence else { throw error("must be a list, got \(rendered)") }
        try budget.spend(Int(sequence.count), at: self)
        return (0..<Int(sequence.count)).map { child(tree.member(sequence, $0)) }
    }

    // MARK: Reading keys of this mapping

    /// The value under `key`, or nil when it is absent or null (or this node is not a mapping, or the budget
    /// is spent: `forEachDocument` then fails with the budget error).
    public subscript(key: String) -> LocatedYAML? {
        // A key is looked up by comparing it with every key of the mapping; the last equal one wins, as in
        // Yams (a composed mapping has no two).
        let mapping = tree.node(index)
        guard mapping.kind == .mapping else { return nil }
        let count = Int(mapping.count / 2)
        guard budget.charge(count, at: self) else { return nil }
        for entry in (0..<count).reversed() where YAMLKeys.matches(tree, tree.member(mapping, 2 * entry), key) {
            let child = child(tree.member(mapping, 2 * entry + 1))
            return child.isNull ? nil : child
        }
        return nil
    }

    /// The value under `key`, or an `is required` error at this mapping's line.
    public func required(_ key: String) throws(LocatedError) -> LocatedYAML {
        guard let child = self[key] else {
            throw LocatedError(file: file, line: line, field: path(of: key), message: "is required")
        }
        return child
    }

    public func string(_ key: String) throws(LocatedError) -> String? { try self[key]?.asString() }
    public func int(_ key: String, in range: ClosedRange<Int>? = nil) throws(LocatedError) -> Int? {
        try self[key]?.asInt(in: range)
    }
    public func bool(_ key: String) throws(LocatedError) -> Bool? { try self[key]?.asBool() }
    public func duration(_ key: String) throws(LocatedError) -> Duration? { try self[key]?.asDuration() }
    public func list(_ key: String) throws(LocatedError) -> [LocatedYAML]? { try self[key]?.asList() }

    /// The mapping under `key`, checked to be a mapping.
    public func mapping(_ key: String) throws(LocatedError) -> LocatedYAML? {
        guard let child = self[key] else { return nil }
        try child.checkMapping()
        return child
    }

    /// An `unknown field` error for every key of this mapping outside `allowed` (typos in config files).
    public func unknownKeys(allowed: Set<String>) -> [LocatedError] {
        guard let entries = try? asMapping() else { return [] }
        return entries.filter { !allowed.contains($0.key) }.map { $0.value.errorAtKey("unknown field") }
    }

    private func errorAtKey(_ message: String) -> LocatedError { error(message) }
}
