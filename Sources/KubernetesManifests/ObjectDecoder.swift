import YAMLSyntax

/// Decodes single objects as the Kubernetes API serves them (list items, which carry no kind or apiVersion,
/// and watch event objects) with exactly the rules manifest files get: the same decoders, name rules and
/// address checks.
public enum ObjectDecoder {
    /// A v1 Service.
    /// - Throws: every problem found, located in `doc`'s file name and field paths.
    public static func service(_ doc: LocatedYAML) throws(ManifestErrors) -> Service {
        var sink = ErrorSink()
        guard check(doc, kind: "Service", apiVersion: "v1", sink: &sink),
            let meta = ObjectMeta.read(doc, nameRule: .dns1035Label, sink: &sink),
            let service = ServiceDecoder.decode(doc, meta: meta, sink: &sink), sink.errors.isEmpty
        else { throw ManifestErrors(sink.errors) }
        return service
    }

    /// A discovery.k8s.io/v1 EndpointSlice; nil, with a note, for an FQDN slice or one without a
    /// `kubernetes.io/service-name` label.
    /// - Throws: every problem found.
    public static func endpointSlice(_ doc: LocatedYAML, notes: inout [String]) throws(ManifestErrors) -> EndpointSlice?
    {
        var sink = ErrorSink()
        guard check(doc, kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1", sink: &sink),
            let meta = ObjectMeta.read(doc, nameRule: .dns1123Subdomain, sink: &sink)
        else { throw ManifestErrors(sink.errors) }
        let slice = EndpointDecoder.slice(doc, meta: meta, sink: &sink, notes: &notes)
        guard sink.errors.isEmpty else { throw ManifestErrors(sink.errors) }
        return slice
    }

    /// A mapping whose kind and apiVersion, when present, are the expected ones.
    private static func check(_ doc: LocatedYAML, kind: String, apiVersion: String, sink: inout ErrorSink) -> Bool {
        sink.attempt { () throws(LocatedError) -> Bool in
            try doc.checkMapping()
            for (key, expected) in [("kind", kind), ("apiVersion", apiVersion)] {
                if let node = doc[key], try node.asString() != expected {
                    throw node.error("must be \(expected), got \(node.rendered)")
                }
            }
            return true
        } != nil
    }
}
