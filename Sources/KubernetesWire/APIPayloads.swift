import KubernetesManifests
import NIOCore
import ServiceTables
import YAMLSyntax

/// One object of a list or a watch event, decoded by KubernetesManifests' decoders.
public enum DecodedObject: Sendable, Hashable {
    case service(Service)
    /// nil: an FQDN slice or one that names no Service (a note), held as nothing.
    case endpointSlice(EndpointSlice?)
    /// Not this proxy's (kube-proxy's labels): held as absent.
    case notOurs
}

/// An object as read: its key and version, and either its decoded value or why it was rejected. A
/// rejected object keeps whatever was last held for its key.
public struct ReadObject: Sendable {
    public var key: ObjectKey
    public var resourceVersion: String
    public var value: Result<DecodedObject, ManifestErrors>

    public init(key: ObjectKey, resourceVersion: String, value: Result<DecodedObject, ManifestErrors>) {
        self.key = key
        self.resourceVersion = resourceVersion
        self.value = value
    }
}

/// Decoding of the API's JSON payloads (lists, watch events, Status) into `LocatedYAML` nodes (by
/// `LocatedYAML.parseJSON`), so the manifests' decoders and their per-field rules apply unchanged.
/// docs/ipvsd.md records the measurement behind this choice.
public enum APIPayloads {
    /// A decoded list page.
    public struct Page: Sendable {
        public var objects: [ReadObject]
        /// Items rejected before their key could be read.
        public var unkeyed: [LocatedError]
        public var resourceVersion: String
        /// The continue token; nil or empty on the last page.
        public var continueToken: String?
    }

    /// A decoded watch event.
    public enum Event: Sendable {
        case added(ReadObject)
        case modified(ReadObject)
        case deleted(ReadObject)
        case bookmark(resourceVersion: String)
        /// An ERROR event: its Status code (410: relist) and message.
        case error(code: Int?, message: String)
    }

    /// Decodes one list page of `resource`.
    /// - Throws: a malformed error when the page itself is not a list (its items are checked one by one).
    public static func page(
        _ buffer: ByteBuffer,
        resource: APIResource,
        claiming proxyName: String?
    ) throws(KubernetesAPIError) -> Page {
        let root = try document(buffer, file: "\(resource) list")
        do throws(LocatedError) {
            let metadata = try root.required("metadata")
            let resourceVersion = try metadata.required("resourceVersion").asString()
            let continueToken = try metadata.string("continue")
            var page = Page(objects: [], unkeyed: [], resourceVersion: resourceVersion, continueToken: continueToken)
            for item in try root.list("items") ?? [] {
                switch object(item, resource: resource, claiming: proxyName) {
                case .success(let object): page.objects.append(object)
                case .failure(let error): page.unkeyed.append(error)
                }
            }
            return page
        } catch {
            throw KubernetesAPIError(.malformed, "\(resource) list: \(error)")
        }
    }

    /// Decodes one watch event line.
    /// - Throws: a malformed error when the line is not an event; an object that fails its rules is an event
    ///   carrying the errors.
    public static func event(
        _ line: ByteBuffer,
        resource: APIResource,
        claiming proxyName: String?
    ) throws(KubernetesAPIError) -> Event {
        let root = try document(line, file: "\(resource) watch event")
        do throws(LocatedError) {
            let type = try root.required("type").asString()
            let objectNode = try root.required("object")
            switch type {
            case "BOOKMARK":
                let version = try objectNode.required("metadata").required("resourceVersion").asString()
                return .bookmark(resourceVersion: version)
            case "ERROR":
                let code = try objectNode.int("code")
                return .error(code: code, message: (try? objectNode.string("message")) ?? nil ?? "(no message)")
            case "ADDED", "MODIFIED", "DELETED":
                let read = try object(objectNode, resource: resource, claiming: proxyName).get()
                return type == "ADDED" ? .added(read) : type == "MODIFIED" ? .modified(read) : .deleted(read)
            default:
                throw root["type"]!.error("must be ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, got \"\(type)\"")
            }
        } catch {
            throw KubernetesAPIError(.malformed, "\(resource) watch event: \(error)")
        }
    }

    /// The key, version and decoded value of one object; fails only when the key itself cannot be read.
    public static func object(
        _ node: LocatedYAML,
        resource: APIResource,
        claiming proxyName: String?
    ) -> Result<ReadObject, LocatedError> {
        let key: ObjectKey
        let version: String
        let labels: [String: String]
        do throws(LocatedError) {
            let metadata = try node.required("metadata")
            key = ObjectKey(
                namespace: try metadata.string("namespace") ?? "default",
                name: try metadata.required("name").asString()
            )
            version = try metadata.string("resourceVersion") ?? ""
            var found: [String: String] = [:]
            for (name, value) in try metadata.mapping("labels")?.asMapping() ?? [] {
                found[name] = try value.asString()
            }
            labels = found
        } catch {
            return .failure(error)
        }
        // Errors name the object, not the stream it came in.
        let named = node.renamed(file: "\(resource.kind) \(key)")
        let value: Result<DecodedObject, ManifestErrors>
        if !ProxyLabels.accepts(labels, claiming: proxyName) {
            value = .success(.notOurs)
        } else {
            switch resource {
            case .services:
                do throws(ManifestErrors) { value = .success(.service(try ObjectDecoder.service(named))) } catch {
                    value = .failure(error)
                }
            case .endpointSlices:
                var notes: [String] = []
                do throws(ManifestErrors) {
                    value = .success(.endpointSlice(try ObjectDecoder.endpointSlice(named, notes: &notes)))
                } catch {
                    value = .failure(error)
                }
            }
        }
        return .success(ReadObject(key: key, resourceVersion: version, value: value))
    }

    /// Parses one JSON text; its root must be an object.
    /// The label kube-proxy takes a node's zone from (k8s.io/api `LabelTopologyZone`).
    public static let zoneLabel = "topology.kubernetes.io/zone"

    /// The `topology.kubernetes.io/zone` label of a Node object (`GET /api/v1/nodes/NAME`); nil when it has none.
    /// - Throws: `malformed` when the body is not a JSON object or the label is not a string.
    public static func nodeZone(_ buffer: ByteBuffer) throws(KubernetesAPIError) -> String? {
        let doc = try document(buffer, file: "Node")
        let zone: String?
        do throws(LocatedError) {
            zone = try doc.mapping("metadata")?.mapping("labels")?.string(zoneLabel)
        } catch {
            throw KubernetesAPIError(.malformed, "\(error)")
        }
        guard let zone, !zone.isEmpty else { return nil }
        // A label value is at most 63 characters (the API server checks; this keeps a log line short).
        guard zone.utf8.count <= 63 else {
            throw KubernetesAPIError(.malformed, "Node: label \(zoneLabel) is longer than 63 characters")
        }
        return zone
    }

    public static func document(_ buffer: ByteBuffer, file: String) throws(KubernetesAPIError) -> LocatedYAML {
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw KubernetesAPIError(.malformed, "\(file): not UTF-8 text")
        }
        do throws(LocatedError) {
            let doc = try LocatedYAML.parseJSON(text, file: file)
            try doc.checkMapping()
            return doc
        } catch {
            throw KubernetesAPIError(.malformed, "\(error)")
        }
    }
}

/// A `Status` object (`kind: Status`), as the server sends with errors.
public enum StatusObject {
    /// The Status's message, when `text` is one.
    public static func message(in text: String) -> String? {
        guard !text.isEmpty, text.utf8.count <= 64 << 10,
            let doc = try? LocatedYAML.parseJSON(text, file: "status"),
            let message = try? doc.string("message")
        else { return nil }
        return String(message.prefix(500))
    }
}
