import Foundation
import KubernetesWire
import YAMLSyntax

/// Reads a kubeconfig file (clientcmd's `Config`): the context (the current one unless named), its
/// cluster's server and CA, and its user's client certificate or token. Relative file paths are relative to
/// the kubeconfig's directory, as kubectl resolves them. Users that run a program (`exec`) or a plugin
/// (`auth-provider`) are refused: ipvsd runs no command a file names.
public enum KubeConfig {
    /// The connection the kubeconfig at `path` describes.
    /// - Parameter context: the context to use; the file's `current-context` when nil.
    /// - Throws: a configuration error naming the file, line and field.
    public static func load(path: String, context: String? = nil) throws(KubernetesAPIError) -> APIConnection {
        let bytes = try APIConnection.readFile(path, what: "kubeconfig")
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw KubernetesAPIError(.configuration, "kubeconfig \(path) is not UTF-8 text")
        }
        let directory = (path as NSString).deletingLastPathComponent
        do throws(LocatedError) {
            return try parse(text, file: path, directory: directory.isEmpty ? "." : directory, context: context)
        } catch {
            throw KubernetesAPIError(.configuration, "kubeconfig \(error)")
        }
    }

    static func parse(
        _ text: String,
        file: String,
        directory: String,
        context wanted: String?
    ) throws(LocatedError) -> APIConnection {
        let root = try LocatedYAML.parse(text, file: file)
        try root.checkMapping()
        let contextName: String
        if let wanted {
            contextName = wanted
        } else {
            guard let current = try root.string("current-context"), !current.isEmpty else {
                throw root.error("has no current-context; set kubernetes.context")
            }
            contextName = current
        }
        let context = try named(root, "contexts", contextName, body: "context")
        let clusterName = try context.required("cluster").asString()
        let cluster = try named(root, "clusters", clusterName, body: "cluster")
        let serverNode = try cluster.required("server")
        let server = try serverNode.asString()
        guard let url = URL(string: server), let scheme = url.scheme, ["https", "http"].contains(scheme),
            url.host != nil
        else { throw serverNode.error("must be an https:// URL, got \(serverNode.rendered)") }
        var connection = APIConnection(
            server: server.hasSuffix("/") ? String(server.dropLast()) : server,
            insecureSkipTLSVerify: try cluster.bool("insecure-skip-tls-verify") ?? false,
            origin: "kubeconfig \(file), context \(contextName)"
        )
        connection.certificateAuthority = try pem(cluster, "certificate-authority", directory: directory)
        guard let userName = try context.string("user"), !userName.isEmpty else { return connection }
        let user = try named(root, "users", userName, body: "user")
        for plugin in ["exec", "auth-provider"] where user[plugin] != nil {
            throw user[plugin]!.error(
                "user \(userName) authenticates through \(plugin == "exec" ? "a program (exec)" : "an auth-provider plugin"), "
                    + "which ipvsd does not run; use a client certificate, token or tokenFile (a service account)"
            )
        }
        if user["username"] != nil || user["password"] != nil {
            throw user.error("user \(userName): basic authentication is not supported; use a certificate or token")
        }
        connection.clientCertificate = try pem(user, "client-certificate", directory: directory)
        connection.clientKey = try pem(user, "client-key", directory: directory)
        if (connection.clientCertificate == nil) != (connection.clientKey == nil) {
            throw user.error("user \(userName) needs both client-certificate and client-key, or neither")
        }
        if let token = try user.string("token"), !token.isEmpty {
            connection.token = .literal(token)
        } else if let tokenFile = try user.string("tokenFile"), !tokenFile.isEmpty {
            connection.token = .file(resolve(tokenFile, directory: directory))
        }
        if let token = connection.token {
            do throws(KubernetesAPIError) { _ = try token.current() } catch { throw user.error(error.message) }
        }
        return connection
    }

    /// The `body` mapping of the entry named `name` in the list under `key`.
    private static func named(
        _ root: LocatedYAML,
        _ key: String,
        _ name: String,
        body: String
    ) throws(LocatedError) -> LocatedYAML {
        for entry in try root.list(key) ?? [] where try entry.string("name") == name {
            return try entry.mapping(body) ?? LocatedYAML.emptyMapping(file: entry.file, path: entry.path)
        }
        throw root.error("has no \(body) named \"\(name)\" in \(key)")
    }

    /// PEM bytes from `KEY-data` (base64) or the file `KEY` names.
    private static func pem(_ node: LocatedYAML, _ key: String, directory: String) throws(LocatedError) -> [UInt8]? {
        if let dataNode = node["\(key)-data"] {
            guard let data = Data(base64Encoded: try dataNode.asString(), options: .ignoreUnknownCharacters) else {
                throw dataNode.error("must be base64")
            }
            return Array(data)
        }
        guard let pathNode = node[key] else { return nil }
        let path = resolve(try pathNode.asString(), directory: directory)
        do throws(KubernetesAPIError) {
            return try APIConnection.readFile(path, what: key)
        } catch {
            throw pathNode.error(error.message)
        }
    }

    private static func resolve(_ path: String, directory: String) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }
}
