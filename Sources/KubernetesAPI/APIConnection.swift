import Foundation
import IPVS
import KubernetesWire
import Synchronization
import YAMLSyntax

/// Where the API server is and how to authenticate to it: from a kubeconfig or from a Pod's service
/// account.
public struct APIConnection: Sendable {
    /// The server's base URL, `https://host:port` (a path prefix is kept).
    public var server: String
    /// PEM of the CAs the server's certificate must chain to; nil: the system's trust store.
    public var certificateAuthority: [UInt8]?
    /// PEM of the client certificate and key (both or neither).
    public var clientCertificate: [UInt8]?
    public var clientKey: [UInt8]?
    /// The bearer token, literal or re-read from a file when the file changes.
    public var token: TokenSource?
    public var insecureSkipTLSVerify: Bool
    /// Where these settings came from, for errors: `kubeconfig /etc/ipvsd/kubeconfig, context prod`.
    public var origin: String

    public init(
        server: String,
        certificateAuthority: [UInt8]? = nil,
        clientCertificate: [UInt8]? = nil,
        clientKey: [UInt8]? = nil,
        token: TokenSource? = nil,
        insecureSkipTLSVerify: Bool = false,
        origin: String
    ) {
        self.server = server
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.token = token
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.origin = origin
    }

    /// The service-account directory every Pod gets.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// In-cluster settings, as client-go's `rest.InClusterConfig`: `KUBERNETES_SERVICE_HOST` and
    /// `KUBERNETES_SERVICE_PORT`, and the service account's `token` (re-read when it changes: projected tokens
    /// rotate) and `ca.crt`.
    /// - Throws: a configuration error naming the missing variable or unreadable file.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String = serviceAccountDirectory
    ) throws(KubernetesAPIError) -> APIConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubernetesAPIError(
                .configuration,
                "kubernetes.inCluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
                    + "(they are in a Pod); outside a cluster use kubernetes.kubeconfig"
            )
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let tokenPath = directory + "/token"
        let token = TokenSource.file(tokenPath)
        _ = try token.current()
        return APIConnection(
            server: "https://\(hostPart):\(port)",
            certificateAuthority: try readFile(directory + "/ca.crt", what: "kubernetes.inCluster: CA file"),
            token: token,
            origin: "in-cluster service account \(directory)"
        )
    }

    /// A kubeconfig, CA, client certificate, key or token file: at most 1 MiB, read through
    /// ``BoundedFile`` (a path to a device or a huge file is refused, never read without end).
    static func readFile(_ path: String, what: String) throws(KubernetesAPIError) -> [UInt8] {
        let limit = 1 << 20
        switch BoundedFile.read(path, limit: limit, regularOnly: false) {
        case .success(let bytes): return bytes
        case .failure(.errno(let code)):
            let reason = IPVSError.describe(errno: code)
            throw KubernetesAPIError(.configuration, "\(what) \(path) cannot be read: \(reason)")
        case .failure(.tooLarge):
            let size = BoundedFile.describe(limit: limit)
            throw KubernetesAPIError(.configuration, "\(what) \(path) is larger than \(size)")
        case .failure(.notRegular): throw KubernetesAPIError(.configuration, "\(what) \(path) is not a regular file")
        }
    }
}

/// A bearer token: literal, or a file re-read whenever its size, modification time or inode changes (the
/// kubelet rewrites projected service-account tokens before they expire).
public final class TokenSource: Sendable {
    private enum Kind: Sendable {
        case literal(String)
        case file(String)
    }
    private struct Cached: Sendable {
        var stamp: [Int64]
        var token: String
    }
    private let kind: Kind
    private let cache = Mutex<Cached?>(nil)

    private init(_ kind: Kind) { self.kind = kind }

    public static func literal(_ token: String) -> TokenSource { TokenSource(.literal(token)) }
    public static func file(_ path: String) -> TokenSource { TokenSource(.file(path)) }

    /// The token now; a changed file is read again.
    /// - Throws: a configuration error when the file cannot be read or is empty.
    public func current() throws(KubernetesAPIError) -> String {
        switch kind {
        case .literal(let token): return token
        case .file(let path):
            var status = stat()
            guard stat(path, &status) == 0 else {
                throw KubernetesAPIError(
                    .configuration,
                    "token file \(path) cannot be read: \(String(cString: strerror(errno)))"
                )
            }
            let stamp = [
                Int64(status.st_size), Int64(status.st_mtim.tv_sec), Int64(status.st_mtim.tv_nsec),
                Int64(status.st_ino),
            ]
            if let cached = cache.withLock({ $0 }), cached.stamp == stamp { return cached.token }
            let bytes = try APIConnection.readFile(path, what: "token file")
            let token = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw KubernetesAPIError(.configuration, "token file \(path) is empty") }
            // It goes into a header: a line break would split the request.
            guard token.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                throw KubernetesAPIError(.configuration, "token file \(path) holds characters a token cannot have")
            }
            cache.withLock { $0 = Cached(stamp: stamp, token: token) }
            return token
        }
    }
}
