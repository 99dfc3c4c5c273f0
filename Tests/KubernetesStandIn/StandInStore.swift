import Foundation

/// The stand-in's objects and their history, as the Kubernetes "API Concepts" reference
/// (kubernetes.io/docs/reference/using-api/api-concepts) describes what a client may observe:
///
/// - "Resource versions": every write gets a new resourceVersion, an opaque string. This store spells them
///   `rv-<n>-<word>` on purpose, so a client that parses or orders them breaks here first.
/// - "Efficient detection of changes": a watch from a resourceVersion sends every change after it, in
///   order, as ADDED, MODIFIED or DELETED with the object (DELETED with its last state).
/// - "410 Gone responses": history is kept for a limited time; `compact()` drops it, and a watch (or a
///   continue token) from before the compaction is answered with 410 (as an ERROR event with a Status of
///   code 410, reason Expired, or as an HTTP 410 when `goneAsHTTPStatus`).
/// - "Retrieving large results sets in chunks": a list with `limit` returns at most that many objects and a
///   `continue` token; every page of one list comes from one snapshot, and the list's
///   `metadata.resourceVersion` is the snapshot's.
struct StandInStore {
    struct Object {
        var namespace: String
        var name: String
        var labels: [String: String]
        /// The JSON object, with its resourceVersion set.
        var json: Data
        var revision: Int
    }

    struct Change {
        var revision: Int
        var type: String
        var object: Object
    }

    var revision = 1
    var objects: [String: [String: Object]] = [:]
    var history: [String: [Change]] = [:]
    /// Watches or continue tokens from before this revision are answered with 410.
    var compactedBefore = 0
    /// Snapshots behind continue tokens.
    var snapshots: [String: (revision: Int, items: [Object])] = [:]

    static func version(_ revision: Int) -> String { "rv-\(revision)-\(["a", "q", "z", "m"][revision % 4])" }

    static func revision(of version: String) -> Int? {
        let parts = version.split(separator: "-")
        guard parts.count == 3, parts[0] == "rv" else { return nil }
        return Int(parts[1])
    }

    /// Stores a JSON object (its metadata.resourceVersion is set here) and records the change.
    mutating func upsert(_ resource: String, _ text: String) -> Change {
        revision += 1
        var json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        var metadata = json["metadata"] as? [String: Any] ?? [:]
        metadata["resourceVersion"] = Self.version(revision)
        json["metadata"] = metadata
        let namespace = metadata["namespace"] as? String ?? "default"
        let name = metadata["name"] as? String ?? ""
        let labels = metadata["labels"] as? [String: String] ?? [:]
        let key = "\(namespace)/\(name)"
        let type = objects[resource]?[key] == nil ? "ADDED" : "MODIFIED"
        let data =
            (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        let object = Object(namespace: namespace, name: name, labels: labels, json: data, revision: revision)
        objects[resource, default: [:]][key] = object
        let change = Change(revision: revision, type: type, object: object)
        history[resource, default: []].append(change)
        return change
    }

    mutating func delete(_ resource: String, namespace: String, name: String) -> Change? {
        guard var object = objects[resource]?.removeValue(forKey: "\(namespace)/\(name)") else { return nil }
        revision += 1
        var json = (try? JSONSerialization.jsonObject(with: object.json)) as? [String: Any] ?? [:]
        var metadata = json["metadata"] as? [String: Any] ?? [:]
        metadata["resourceVersion"] = Self.version(revision)
        json["metadata"] = metadata
        object.json =
            (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        object.revision = revision
        let change = Change(revision: revision, type: "DELETED", object: object)
        history[resource, default: []].append(change)
        return change
    }

    /// Expires every resourceVersion up to now. The revision moves on, as etcd's does, so a list made after
    /// the compaction has a version a watch can start from.
    mutating func compact() {
        revision += 1
        compactedBefore = revision
        history = [:]
        snapshots = [:]
    }

    /// The objects of `resource` matching `filter`, sorted by namespace and name.
    func list(_ resource: String, filter: ObjectFilter) -> [Object] {
        (objects[resource] ?? [:]).values.filter(filter.matches).sorted {
            ($0.namespace, $0.name) < ($1.namespace, $1.name)
        }
    }
}

/// A list or watch's scope: namespace, `labelSelector` (`key`, `!key`, `key=value`, `key!=value`, joined by
/// commas) and `fieldSelector` (`metadata.name=` and `metadata.namespace=`, which `kubectl wait` sends).
struct ObjectFilter {
    var namespace: String?
    var labelSelector: String?
    var fieldSelector: String?

    func matches(_ object: StandInStore.Object) -> Bool {
        if let namespace, object.namespace != namespace { return false }
        for term in (labelSelector ?? "").split(separator: ",").map(String.init) where !term.isEmpty {
            if term.hasPrefix("!") {
                if object.labels[String(term.dropFirst())] != nil { return false }
            } else if let range = term.range(of: "!=") {
                if object.labels[String(term[..<range.lowerBound])] == String(term[range.upperBound...]) {
                    return false
                }
            } else if let range = term.range(of: "=") {
                let value = String(term[range.upperBound...].drop { $0 == "=" })
                if object.labels[String(term[..<range.lowerBound])] != value { return false }
            } else if object.labels[term] == nil {
                return false
            }
        }
        for term in (fieldSelector ?? "").split(separator: ",").map(String.init) {
            let parts = term.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let value = parts[1].hasPrefix("=") ? String(parts[1].dropFirst()) : parts[1]
            switch parts[0] {
            case "metadata.name": if object.name != value { return false }
            case "metadata.namespace": if object.namespace != value { return false }
            default: break
            }
        }
        return true
    }
}
