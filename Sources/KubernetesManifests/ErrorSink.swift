import IPVS
import YAMLSyntax

/// Collects errors so one bad field does not hide the next: every load reports all problems at once.
struct ErrorSink {
    var errors: [LocatedError] = []

    /// Runs `body`, recording its error and returning nil when it throws.
    mutating func attempt<T>(_ body: () throws(LocatedError) -> T) -> T? {
        do throws(LocatedError) {
            return try body()
        } catch {
            errors.append(error)
            return nil
        }
    }

    mutating func append(_ error: LocatedError) { errors.append(error) }
}

/// The common fields of every object.
struct ObjectMeta {
    var namespace: String
    var name: String
    var nameNode: LocatedYAML
    var metadata: LocatedYAML

    /// Reads `metadata.name` (required, in the format `nameRule` names) and `metadata.namespace` (a DNS-1123
    /// label, default `default`).
    static func read(_ doc: LocatedYAML, nameRule: ObjectNames.Rule, sink: inout ErrorSink) -> ObjectMeta? {
        sink.attempt { () throws(LocatedError) -> ObjectMeta in
            let metadata = try doc.required("metadata")
            try metadata.checkMapping()
            let nameNode = try metadata.required("name")
            let name = try nameNode.asString()
            guard !name.isEmpty else { throw nameNode.error("must not be empty") }
            if let problem = ObjectNames.problem(name, nameRule) { throw nameNode.error(problem) }
            let namespace = try metadata.string("namespace") ?? ""
            if !namespace.isEmpty, let problem = ObjectNames.problem(namespace, .dns1123Label),
                let namespaceNode = metadata["namespace"]
            {
                throw namespaceNode.error(problem)
            }
            return ObjectMeta(
                namespace: namespace.isEmpty ? "default" : namespace,
                name: name,
                nameNode: nameNode,
                metadata: metadata
            )
        }
    }
}

extension LocatedYAML {
    /// Converts each element of the list under `key`; empty when the key is absent.
    func each<T>(_ key: String, _ body: (LocatedYAML) throws(LocatedError) -> T) throws(LocatedError) -> [T] {
        try (list(key) ?? []).map(body)
    }

    /// The node as an IP address of `family` (either family when nil).
    func asIPAddress(_ family: AddressFamily? = nil) throws(LocatedError) -> IPAddress {
        let text = try asString()
        // inet_pton reads up to a NUL: "10.0.0.1\0junk" must not pass as 10.0.0.1.
        guard !text.utf8.contains(0), let address = IPAddress(text), family == nil || address.family == family else {
            let what = family.map { $0 == .inet ? "an IPv4 address" : "an IPv6 address" } ?? "an IP address"
            throw error("must be \(what), got \(rendered)")
        }
        return address
    }

    /// `protocol`: TCP (the default), UDP or SCTP.
    func protocolField() throws(LocatedError) -> IPProtocol {
        guard let node = self["protocol"] else { return .tcp }
        let text = try node.asString()
        guard ["TCP", "UDP", "SCTP"].contains(text), let proto = IPProtocol(name: text) else {
            throw node.error("must be TCP, UDP or SCTP, got \(node.rendered)")
        }
        return proto
    }

    /// An address family name as `ipFamilies` and `addressType` spell it.
    func asFamily() throws(LocatedError) -> AddressFamily {
        switch try asString() {
        case "IPv4": return .inet
        case "IPv6": return .inet6
        default: throw error("must be IPv4 or IPv6, got \(rendered)")
        }
    }
}
