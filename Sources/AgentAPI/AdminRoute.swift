/// An admin API endpoint, as a request line names it: the one place that maps a method and a URI to what
/// the agent should do, so the server's routing can be tested and fuzzed without a server.
public enum AdminRoute: String, Sendable, Hashable, CaseIterable {
    /// `GET /v1/status`
    case status
    /// `GET /v1/services`
    case services
    /// `GET /v1/health`
    case health
    /// `GET /v1/explain?target=NAMESPACE/NAME` (or `target=ADDRESS:PORT`)
    case explain
    /// `POST /v1/sync`
    case sync
    /// `POST /v1/resync`
    case resync

    /// The method the route answers.
    public var method: String {
        switch self {
        case .status, .services, .health, .explain: "GET"
        case .sync, .resync: "POST"
        }
    }

    /// The route's path, one of ``AdminPath``'s constants.
    public var path: String {
        switch self {
        case .status: AdminPath.status
        case .services: AdminPath.services
        case .health: AdminPath.health
        case .explain: AdminPath.explain
        case .sync: AdminPath.sync
        case .resync: AdminPath.resync
        }
    }

    /// The route a request line names, or nil (the server answers 404, or 405 for a known path).
    ///
    /// The method is case-sensitive as HTTP says; the URI is origin-form: its query is ignored, and the path
    /// must equal the route's exactly, without decoding percent-escapes or dot segments, so no two spellings
    /// reach one route.
    public static func parse(method: String, uri: String) -> AdminRoute? {
        let path = uri.prefix { $0 != "?" && $0 != "#" }
        return allCases.first { $0.method == method && $0.path == path }
    }

    /// Whether some route has this URI's path, whatever the method (405 rather than 404 when one does).
    public static func isKnownPath(_ uri: String) -> Bool {
        let path = uri.prefix { $0 != "?" && $0 != "#" }
        return allCases.contains { $0.path == path }
    }
}
