/// A failure talking to the Kubernetes API, with what failed and why, in words an operator can act on.
public struct KubernetesAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure: decides whether and how the watcher retries.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: String, Hashable, Sendable {
            case configuration, connection, tls, unauthorized, forbidden, gone, tooManyRequests, server, http
            case malformed, tooLarge
        }
        let value: Value
        public var description: String { value.rawValue }

        /// The kubeconfig or in-cluster credentials are unusable.
        public static let configuration = Code(value: .configuration)
        /// The server could not be reached, or the connection broke.
        public static let connection = Code(value: .connection)
        /// The TLS handshake failed (wrong CA, bad client certificate).
        public static let tls = Code(value: .tls)
        /// 401: the credentials were refused.
        public static let unauthorized = Code(value: .unauthorized)
        /// 403: the credentials lack a permission the request needs (RBAC: list and watch, or get on nodes).
        public static let forbidden = Code(value: .forbidden)
        /// 410: the resourceVersion or continue token is too old; relist.
        public static let gone = Code(value: .gone)
        /// 429: the server asks to wait (`retryAfter`).
        public static let tooManyRequests = Code(value: .tooManyRequests)
        /// 5xx.
        public static let server = Code(value: .server)
        /// Any other unexpected status.
        public static let http = Code(value: .http)
        /// A payload that is not what the API documents.
        public static let malformed = Code(value: .malformed)
        /// A payload over its budget.
        public static let tooLarge = Code(value: .tooLarge)
    }

    public var code: Code
    public var message: String
    /// Seconds the server asked to wait (Retry-After), when it did.
    public var retryAfter: Int?

    public init(_ code: Code, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}
