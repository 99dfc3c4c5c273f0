import AsyncHTTPClient
import Foundation
import KubernetesWire
import NIOCore
import NIOHTTP1
import NIOSSL

/// GETs against one API server over AsyncHTTPClient (HTTP/1.1 or HTTP/2, TLS by NIOSSL): list pages and
/// watch streams, with the budgets of `APILimits`. One client per connection settings; `shutdown` ends it.
public final class APIClient: Sendable {
    public let connection: APIConnection
    public let limits: APILimits
    private let http: HTTPClient

    /// - Throws: a configuration error when a PEM (CA, client certificate or key) cannot be read.
    public init(connection: APIConnection, limits: APILimits = APILimits()) throws(KubernetesAPIError) {
        self.connection = connection
        self.limits = limits
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = connection.certificateAuthority {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if let certificate = connection.clientCertificate, let key = connection.clientKey {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw KubernetesAPIError(.configuration, "\(connection.origin): unusable certificate or key: \(error)")
        }
        if connection.insecureSkipTLSVerify { tls.certificateVerification = .none }
        // A closed connection waits this long for the server's close_notify before closing uncleanly. Every
        // byte wanted has been read by then; NIOSSL's default (5 s) held ipvsd's exit on SIGTERM that long
        // when a watch was cancelled.
        tls.shutdownTimeout = .seconds(1)
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            // A watch is quiet between events; the server ends it after timeoutSeconds. Past that, silence
            // means a dead connection.
            timeout: .init(connect: .seconds(10), read: .seconds(Int64(limits.watchTimeoutSeconds) + 30))
        )
        configuration.connectionPool = .init(idleTimeout: .seconds(60))
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    /// GETs one page of `resource`: `limit` objects at most, from `continueToken` on.
    /// - Throws: a typed error; `gone` for an expired continue token.
    public func listPage(
        _ resource: APIResource,
        selector: String,
        continueToken: String?
    ) async throws(KubernetesAPIError) -> ByteBuffer {
        var query = [("limit", "\(limits.pageSize)"), ("labelSelector", selector)]
        if let continueToken { query.append(("continue", continueToken)) }
        let response = try await get(resource, query: query)
        return try await body(
            of: response,
            upTo: limits.maxPageBytes,
            path: resource.path,
            tooLarge:
                "\(resource) list page is larger than \(limits.maxPageBytes) bytes (limit \(limits.pageSize) objects)"
        )
    }

    /// The whole body of `response`, at most `limit` bytes (`tooLarge` is the message past it).
    private func body(
        of response: HTTPClientResponse,
        upTo limit: Int,
        path: String,
        tooLarge: String
    ) async throws(KubernetesAPIError) -> ByteBuffer {
        do {
            return try await response.body.collect(upTo: limit)
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw KubernetesAPIError(.tooLarge, tooLarge)
        } catch {
            throw describe(error, path: path)
        }
    }

    /// Opens a watch of `resource` from `resourceVersion`, with bookmarks and a server-side timeout.
    /// - Returns: the body, as the server streams it.
    public func watch(
        _ resource: APIResource,
        selector: String,
        resourceVersion: String
    ) async throws(KubernetesAPIError) -> HTTPClientResponse.Body {
        let response = try await get(
            resource,
            query: [
                ("watch", "1"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true"),
                ("timeoutSeconds", "\(limits.watchTimeoutSeconds)"), ("labelSelector", selector),
            ]
        )
        return response.body
    }

    /// GETs this node's Node object (`/api/v1/nodes/NAME`), for its labels.
    /// - Throws: a typed error (`forbidden` when the identity may not get nodes, `http` for a 404).
    public func node(named name: String) async throws(KubernetesAPIError) -> ByteBuffer {
        // Node names are DNS subdomains (the config checks nodeName); any other byte is escaped, so a name can
        // never change the path.
        let escaped = name.addingPercentEncoding(withAllowedCharacters: Self.nodeNameCharacters) ?? ""
        guard !escaped.isEmpty else { throw KubernetesAPIError(.configuration, "no node name to get the Node of") }
        let path = "/api/v1/nodes/\(escaped)"
        // Shorter than a list's 30 s: the lists wait for this answer, and without it ipvsd only loses zone hints.
        let response = try await get(path: path, query: [], permission: "get on nodes", timeout: .seconds(10))
        return try await body(
            of: response,
            upTo: limits.maxEventLineBytes,
            path: path,
            tooLarge: "GET \(path): the Node is larger than \(limits.maxEventLineBytes) bytes"
        )
    }

    private static let nodeNameCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789-.")

    private func get(
        _ resource: APIResource,
        query: [(String, String)]
    ) async throws(KubernetesAPIError)
        -> HTTPClientResponse
    {
        try await get(path: resource.path, query: query, permission: "list and watch on \(resource.rawValue)")
    }

    /// - Parameter permission: what the identity needs for `path` (named when the server answers 403).
    private func get(
        path: String,
        query: [(String, String)],
        permission: String,
        timeout: TimeAmount = .seconds(30)
    ) async throws(KubernetesAPIError)
        -> HTTPClientResponse
    {
        var components = URLComponents()
        components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
        // URLComponents leaves `+` alone; a server reads it as a space.
        let encoded = (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        var request = HTTPClientRequest(url: connection.server + path + (encoded.isEmpty ? "" : "?" + encoded))
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "ipvsd")
        if let token = try connection.token?.current() {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw describe(error, path: path)
        }
        guard response.status == .ok else {
            let text = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            throw statusError(response, body: text, path: path, permission: permission)
        }
        return response
    }

    /// The error for a non-200 answer, with the server's Status message when it sent one.
    private func statusError(
        _ response: HTTPClientResponse,
        body: String,
        path: String,
        permission: String
    )
        -> KubernetesAPIError
    {
        let status = response.status.code
        let serverMessage = StatusObject.message(in: body).map { ": \($0)" } ?? ""
        let what = "GET \(path) answered \(status)\(serverMessage)"
        switch status {
        case 401:
            return KubernetesAPIError(
                .unauthorized,
                "\(what) (unauthorized: the token or client certificate of \(connection.origin) was refused)"
            )
        case 403:
            return KubernetesAPIError(
                .forbidden,
                "\(what) (forbidden: the identity of \(connection.origin) needs \(permission); see deploy/kubernetes)"
            )
        case 410: return KubernetesAPIError(.gone, what)
        case 429:
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) }
            return KubernetesAPIError(.tooManyRequests, what, retryAfter: retryAfter)
        case 500...599: return KubernetesAPIError(.server, what)
        default: return KubernetesAPIError(.http, what)
        }
    }

    func describe(_ error: any Error, resource: APIResource) -> KubernetesAPIError {
        describe(error, path: resource.path)
    }

    private func describe(_ error: any Error, path: String) -> KubernetesAPIError {
        if let error = error as? KubernetesAPIError { return error }
        let text = "\(error)"
        if error is NIOSSLError || text.contains("certificate verify failed") || text.contains("handshake") {
            return KubernetesAPIError(
                .tls,
                "TLS with \(connection.server) failed: \(text) (is the certificate-authority of \(connection.origin) "
                    + "the cluster's CA?)"
            )
        }
        return KubernetesAPIError(.connection, "GET \(connection.server)\(path): \(text)")
    }
}

/// The budgets of one API source. Defaults fit a large cluster: etcd refuses objects over 1.5 MiB.
public struct APILimits: Sendable {
    /// Objects per list page (`limit`).
    public var pageSize = 500
    /// The largest list page read.
    public var maxPageBytes = 64 << 20
    /// The longest watch event line (the object plus its envelope); longer lines are dropped unread.
    public var maxEventLineBytes = 1_572_864 + 8192
    /// The most objects held per resource; a list or an add past it is refused.
    public var maxObjects = 500_000
    /// The server ends each watch after this long (`timeoutSeconds`); the client renews it from the last
    /// resourceVersion.
    public var watchTimeoutSeconds = 300
    /// Backoff between failed attempts: doubles from `initialBackoff` up to `maxBackoff`, with jitter.
    public var initialBackoff: Duration = .milliseconds(500)
    public var maxBackoff: Duration = .seconds(30)

    public init() {}
}
