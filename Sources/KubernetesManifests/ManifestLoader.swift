import Foundation

/// Reads Kubernetes manifests (YAML or JSON, multi-document, `kind: List`) into a `ManifestSet`.
public enum ManifestLoader {
    /// Extensions of files a directory load reads.
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// Loads a file, or every manifest file under a directory (recursively, hidden entries skipped, in path
    /// order so results never depend on the file system's listing order).
    /// - Throws: every problem of every file, each with file, line and field.
    public static func load(path: String) throws(ManifestErrors) -> ManifestSet {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ManifestErrors([ManifestError(file: path, line: nil, field: "", message: "no such file or directory")]
            )
        }
        let files = isDirectory.boolValue ? manifestFiles(under: path) : [path]
        var reader = Reader()
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                reader.sink.append(ManifestError(file: file, line: nil, field: "", message: "cannot be read"))
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                reader.sink.append(ManifestError(file: file, line: nil, field: "", message: "is not UTF-8 text"))
                continue
            }
            reader.read(text, file: file)
        }
        return try reader.finish()
    }

    /// Parses manifest text; `file` names it in errors and notes.
    public static func parse(_ text: String, file: String) throws(ManifestErrors) -> ManifestSet {
        var reader = Reader()
        reader.read(text, file: file)
        return try reader.finish()
    }

    private static func manifestFiles(under root: String) -> [String] {
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        guard let enumerator = FileManager.default.enumerator(atPath: base) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") {
                enumerator.skipDescendants()
                continue
            }
            let full = base + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
                extensions.contains((name as NSString).pathExtension.lowercased())
            else { continue }
            files.append(full)
        }
        return files.sorted()
    }
}

/// Accumulates the objects, notes and errors of one load, and detects duplicates across files.
private struct Reader {
    var set = ManifestSet()
    var sink = ErrorSink()
    var firstSeen: [String: SourceLocation] = [:]

    mutating func read(_ text: String, file: String) {
        // Decoded one document at a time; a syntax error fails the whole load (finish throws), so objects
        // decoded before it are never used.
        do throws(ManifestError) {
            try LocatedYAML.forEachDocument(text, file: file) { object($0) }
        } catch {
            sink.append(error)
        }
    }

    func finish() throws(ManifestErrors) -> ManifestSet {
        guard sink.errors.isEmpty else { throw ManifestErrors(sink.errors) }
        return set
    }

    private mutating func object(_ doc: LocatedYAML) {
        guard sink.attempt({ () throws(ManifestError) in try doc.asMapping() }) != nil,
            let kind = sink.attempt({ () throws(ManifestError) in try doc.required("kind").asString() }),
            let apiVersion = sink.attempt({ () throws(ManifestError) in try doc.required("apiVersion").asString() })
        else { return }
        if kind == "List" || (kind.hasSuffix("List") && apiVersion == expectedVersion(String(kind.dropLast(4)))) {
            for item in (sink.attempt { () throws(ManifestError) in try doc.list("items") } ?? nil) ?? [] {
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
            sink.append(doc["apiVersion"]!.error("must be \(expected) for kind \(kind), got \"\(apiVersion)\""))
            return
        }
        guard let meta = ObjectMeta.read(doc, sink: &sink) else { return }
        let key = "\(kind) \(meta.namespace)/\(meta.name)"
        if let first = firstSeen[key] {
            sink.append(meta.nameNode.error("duplicate \(key), first defined at \(first)"))
            return
        }
        firstSeen[key] = SourceLocation(file: doc.file, line: doc.line)
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
