import AgentAPI
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The admin API on a Unix socket only root can reach: the socket is 0600 in a 0700 directory.
public enum AdminServer {
    /// An application serving `/v1/status`, `/v1/services`, `/v1/health` and `POST /v1/sync` at `path`.
    public static func application(agent: Agent, path: String, logger: Logger) throws(AgentError) -> any Service {
        try prepareDirectory(of: path)
        unlink(path)  // a stale socket from a previous run
        let router = Router()
        router.get(RouterPath(AdminPath.status)) { _, _ in try json(await agent.status()) }
        router.get(RouterPath(AdminPath.services)) { _, _ in try json(await agent.serviceViews()) }
        router.get(RouterPath(AdminPath.health)) { _, _ in try json(await agent.healthViews()) }
        router.post(RouterPath(AdminPath.sync)) { _, _ in
            await agent.requestReload()
            await agent.requestFullResync()
            return Response(status: .accepted)
        }
        router.post(RouterPath(AdminPath.resync)) { _, _ in
            await agent.requestFullResync()
            return Response(status: .accepted)
        }
        return Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: path), serverName: "ipvsd"),
            onServerRunning: { _ in
                if chmod(path, 0o600) != 0 {
                    logger.error("cannot restrict the admin socket", metadata: ["path": "\(path)"])
                }
            },
            logger: logger
        )
    }

    /// Creates the socket's directory root-only; an existing directory others can write is refused.
    static func prepareDirectory(of path: String) throws(AgentError) {
        let directory = (path as NSString).deletingLastPathComponent
        guard !directory.isEmpty else { return }
        var info = stat()
        if stat(directory, &info) != 0 {
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw AgentError("admin socket directory \(directory): \(String(cString: strerror(errno)))")
            }
            return
        }
        if info.st_mode & 0o022 != 0 && info.st_mode & UInt32(S_ISVTX) == 0 {
            throw AgentError("admin socket directory \(directory) is writable by others; use a root-only directory")
        }
    }

    static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

/// /metrics (Prometheus text), /healthz (liveness) and /readyz (ready once the desired state is programmed).
public enum MetricsServer {
    public static func application(
        agent: Agent,
        metrics: AgentMetrics,
        address: String,
        logger: Logger
    ) throws(AgentError) -> any Service {
        let (host, port) = try parse(address)
        let router = Router()
        router.get("/metrics") { _, _ in
            var text = metrics.registry.emitToString()
            text += await agent.kernelStatistics()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text))
            )
        }
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ in
            await agent.isReady
                ? Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ready\n")))
                : Response(
                    status: .serviceUnavailable,
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "not ready: desired state not programmed yet\n"))
                )
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "ipvsd"),
            logger: logger
        )
    }

    /// `127.0.0.1:9750` or `[::1]:9750`.
    static func parse(_ address: String) throws(AgentError) -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port)
        else { throw AgentError("metricsAddress \"\(address)\": expected HOST:PORT, such as 127.0.0.1:9750") }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }
}
