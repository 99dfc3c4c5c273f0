/// The two resources a node proxy watches, cluster-wide.
public enum APIResource: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case services
    case endpointSlices = "endpointslices"

    /// The collection's path below the server URL.
    public var path: String {
        switch self {
        case .services: "/api/v1/services"
        case .endpointSlices: "/apis/discovery.k8s.io/v1/endpointslices"
        }
    }

    /// The object kind, for messages.
    public var kind: String {
        switch self {
        case .services: "Service"
        case .endpointSlices: "EndpointSlice"
        }
    }

    public var description: String { rawValue }
}

/// kube-proxy's label conventions (pkg/proxy, cmd/kube-proxy/app/server.go).
public enum ProxyLabels {
    /// A Service with this label is served by the proxy it names, not by the default one.
    public static let serviceProxyName = "service.kubernetes.io/service-proxy-name"
    /// Set by the EndpointSlice controller on slices of headless Services.
    public static let headless = "service.kubernetes.io/headless"

    /// The label selector sent with lists and watches. Without a claimed proxy name it is kube-proxy's, so
    /// the server never sends what is not ours; with one, Services labelled for other proxies come too (a
    /// selector cannot say "absent or equal to") and `accepts` drops them.
    public static func selector(claiming proxyName: String?) -> String {
        proxyName == nil ? "!\(serviceProxyName),!\(headless)" : "!\(headless)"
    }

    /// Whether an object with `labels` is this proxy's. Checked on every object, whatever the server did with
    /// the selector: an object that stops being ours is a deletion.
    public static func accepts(_ labels: [String: String], claiming proxyName: String?) -> Bool {
        if labels[headless] != nil { return false }
        guard let name = labels[serviceProxyName] else { return true }
        return name == proxyName
    }
}
