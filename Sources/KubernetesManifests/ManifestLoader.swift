import IPVS
import YAMLSyntax

/// Reads Kubernetes manifests (YAML or JSON, multi-document, `kind: List`) into a `ManifestSet`.
public enum ManifestLoader {
    /// Extensions of files a directory load reads.
    public static var extensions: Set<String> { ManifestFiles.extensions }

    /// Loads a file, or every manifest file under a directory (recursively, hidden entries skipped, in path
    /// order so results never depend on the file system's listing order); see `ManifestFiles.list`.
    /// - Throws: every problem of every file, each with file, line and field. A path that cannot be listed
    ///   or a file that cannot be read is an error: a load never mistakes a failure for an empty set.
    public static func load(path: String) throws(ManifestErrors) -> ManifestSet {
        let listing: (files: [ManifestFile], notes: [String])
        do throws(LocatedError) {
            listing = try ManifestFiles.list(path)
        } catch {
            throw ManifestErrors([error])
        }
        var reader = Reader()
        reader.set.notes = listing.notes
        for file in listing.files {
            do throws(LocatedError) {
                reader.read(try ManifestFiles.read(file.path)[...], file: file.path)
            } catch {
                reader.sink.append(error)
            }
        }
        return try reader.finish()
    }

    /// Parses one file's text with its own errors, and what it defines (for ``ManifestStore``'s duplicate
    /// check across files).
    ///
    /// A file of 2 MiB or more is split at document markers (``YAMLDocumentParts``) and its parts read on
    /// several threads, then joined in order, stopping after a part that ends in a syntax error as one pass
    /// stops there. Each part has its own alias budget, sized to its bytes as a file's is. An object defined
    /// twice fails the file either way (``ManifestStore`` reports the duplicate); when the two definitions are
    /// in different parts the second is decoded too, so its own errors are reported beside the duplicate.
    static func parseFile(
        _ text: String,
        file: String,
        partBytes: Int = partBytes,
        maximumParts: Int = InParts.maximumParts
    ) -> (set: ManifestSet, definitions: [ObjectDefinition], errors: [LocatedError]) {
        let parts = YAMLDocumentParts.split(text, minimumBytes: partBytes, maximumParts: maximumParts)
        if parts.count == 1 {
            var reader = Reader()
            reader.reportsDuplicates = false
            reader.read(text[...], file: file)
            return (reader.set, reader.definitions, reader.sink.errors)
        }
        var read = InParts.map(count: parts.count, minimumPerPart: 1) { range in
            range.map { index in
                var reader = Reader()
                reader.reportsDuplicates = false
                let complete = reader.read(parts[index].text, file: file, firstLine: parts[index].firstLine)
                return (reader.set, reader.definitions, reader.sink.errors, complete)
            }
        }
        var result: (set: ManifestSet, definitions: [ObjectDefinition], errors: [LocatedError]) = (.init(), [], [])
        // Each part is let go once joined: held until the end, every part's arrays stayed beside their copies.
        joining: for group in read.indices {
            for index in read[group].indices {
                let (set, definitions, errors, complete) = read[group][index]
                read[group][index] = (ManifestSet(), [], [], complete)
                result.set.append(set)
                result.definitions += definitions
                result.errors += errors
                if !complete { break joining }
            }
        }
        return result
    }

    /// The smallest part a file is split into for reading on several threads: below it, a thread costs more
    /// than it saves.
    static let partBytes = 1 << 20

    /// Parses manifest text; `file` names it in errors and notes.
    public static func parse(_ text: String, file: String) throws(ManifestErrors) -> ManifestSet {
        var reader = Reader()
        reader.read(text[...], file: file)
        return try reader.finish()
    }
}

/// Accumulates the objects, notes and errors of one load, and detects duplicates across files.
private struct Reader {
    var set = ManifestSet()
    var sink = ErrorSink()
    var firstSeen: [String: SourceLocation] = [:]
    /// Every object definition in order, repeated ones too (not decoded).
    var definitions: [ObjectDefinition] = []
    /// False when the caller reports duplicates itself, across files (``ManifestStore``).
    var reportsDuplicates = true

    /// Reads `text`, which starts on line `firstLine` of `file`.
    /// - Returns: false when a syntax error (or the spent budget) ended the read before the text's end.
    @discardableResult
    mutating func read(_ text: Substring, file: String, firstLine: Int = 1) -> Bool {
        // Decoded one document at a time; a syntax error fails the whole load (finish throws), so objects
        // decoded before it are never used.
        var errorsBefore = sink.errors.count
        do throws(LocatedError) {
            try LocatedYAML.forEachDocument(text, file: file, firstLine: firstLine) { doc in
                errorsBefore = sink.errors.count
                object(doc)
            }
            return true
        } catch {
            // A spent budget leaves a trail of errors from the accessors that refused after it: report the
            // budget alone for that document.
            if error.message.hasPrefix(YAMLBudget.message) { sink.errors.removeSubrange(errorsBefore...) }
            sink.append(error)
            return false
        }
    }

    func finish() throws(ManifestErrors) -> ManifestSet {
        guard sink.errors.isEmpty else { throw ManifestErrors(sink.errors) }
        return set
    }

    private mutating func object(_ doc: LocatedYAML) {
        guard sink.attempt({ () throws(LocatedError) in try doc.asMapping() }) != nil,
            let kind = sink.attempt({ () throws(LocatedError) in try doc.required("kind").asString() }),
            let apiVersion = sink.attempt({ () throws(LocatedError) in try doc.required("apiVersion").asString() })
        else { return }
        if kind == "List" || (kind.hasSuffix("List") && apiVersion == expectedVersion(String(kind.dropLast(4)))) {
            for item in (sink.attempt { () throws(LocatedError) in try doc.list("items") } ?? nil) ?? [] {
                object(item)
            }
            return
        }
        guard let expected = expectedVersion(kind) else {
            let name = doc["metadata"].flatMap { try? $0.string("name") } ?? "(unnamed)"
            set.notes.append("\(doc.file):\(doc.line): skipped \(apiVersion) \(kind) \(name)")
            return
        }
        guard apiVersion == expected else {
            sink.append(
                LocatedError(
                    file: doc.file,
                    line: doc["apiVersion"]?.line ?? doc.line,
                    field: "apiVersion",
                    message: "must be \(expected) for kind \(kind), got \"\(apiVersion)\""
                )
            )
            return
        }
        let nameRule: ObjectNames.Rule = kind == "Service" ? .dns1035Label : .dns1123Subdomain
        guard let meta = ObjectMeta.read(doc, nameRule: nameRule, sink: &sink) else { return }
        let key = "\(kind) \(meta.namespace)/\(meta.name)"
        let definition = ObjectDefinition(
            key: key,
            location: SourceLocation(file: doc.file, line: doc.line),
            name: meta.nameNode.error("")
        )
        definitions.append(definition)
        if let first = firstSeen[key] {
            if reportsDuplicates { sink.append(definition.duplicate(of: first)) }
            return
        }
        firstSeen[key] = definition.location
        switch kind {
        case "Service":
            if let service = ServiceDecoder.decode(doc, meta: meta, sink: &sink) { set.services.append(service) }
        case "EndpointSlice":
            if let slice = EndpointDecoder.slice(doc, meta: meta, sink: &sink, notes: &set.notes) {
                set.endpointSlices.append(slice)
            }
        default:
            if let endpoints = EndpointDecoder.endpoints(doc, meta: meta, sink: &sink) {
                set.endpoints.append(endpoints)
            }
        }
    }

    private func expectedVersion(_ kind: String) -> String? {
        switch kind {
        case "Service", "Endpoints": "v1"
        case "EndpointSlice": "discovery.k8s.io/v1"
        default: nil
        }
    }
}

/// One object a file defines: `Service default/web`, where its document starts, and where its name is
/// (duplicates are reported there).
struct ObjectDefinition: Sendable, Hashable {
    var key: String
    var location: SourceLocation
    var name: LocatedError

    func duplicate(of first: SourceLocation) -> LocatedError {
        var error = name
        error.message = "duplicate \(key), first defined at \(first)"
        return error
    }
}

/// The fuzz target's view of ``ManifestLoader``'s reading in parts. Not for other use.
@_spi(Fuzzing)
public enum ManifestPartsFuzzing {
    /// Reads `text` in parts of at least `partBytes` (up to 4, on any machine) and in one pass, and returns
    /// a disagreement, or nil: both must succeed or fail together and, when they succeed, give the same
    /// objects and definitions. A file fails when it has errors or defines an object twice (the store reports
    /// the duplicate; a duplicate in a later part is decoded, so its own errors may be reported too). A spent
    /// alias budget is left out (each part has its own budget, sized to its bytes).
    public static func disagreement(_ text: String, partBytes: Int) -> String? {
        let inParts = ManifestLoader.parseFile(text, file: "fuzz.yaml", partBytes: partBytes, maximumParts: 4)
        let onePass = ManifestLoader.parseFile(text, file: "fuzz.yaml", partBytes: .max)
        let spent = (inParts.errors + onePass.errors).contains { $0.message.hasPrefix(YAMLBudget.message) }
        if spent { return nil }
        let fails = { (read: (set: ManifestSet, definitions: [ObjectDefinition], errors: [LocatedError])) in
            !read.errors.isEmpty || Set(read.definitions.map(\.key)).count != read.definitions.count
        }
        if fails(inParts) != fails(onePass) {
            return "in parts: \(inParts.errors.map(\.description)); one pass: \(onePass.errors.map(\.description))"
        }
        guard !fails(onePass) else { return nil }
        if inParts.definitions.map(\.key) != onePass.definitions.map(\.key) {
            return "definitions differ: \(inParts.definitions.map(\.key)) against \(onePass.definitions.map(\.key))"
        }
        if inParts.set != onePass.set { return "objects differ" }
        return nil
    }
}
