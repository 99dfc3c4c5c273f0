import AgentAPI
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The admin API on a Unix socket only root can reach: the socket is 0600 in a 0700 directory the agent's
/// user owns. Anything else at those paths is refused rather than replaced: a directory another user owns
/// or can write would let that user swap the socket and answer in the agent's name.
public enum AdminServer {
    /// An application serving `/v1/status`, `/v1/services`, `/v1/health` and `POST /v1/sync` at `path`,
    /// held to `limits` (see ``ResourceBudget``).
    /// - Throws: ``AgentError`` when the socket's directory or path is unsafe (see ``prepareSocketPath(_:)``).
    public static func application(
        agent: Agent,
        path: String,
        limits: HTTPListenerLimits = .admin,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws(AgentError) -> any Service {
        try prepareSocketPath(path)
        let router = Router()
        // Status and the sync requests go through the board: they answer while a sync holds the agent.
        router.get(RouterPath(AdminPath.status)) { _, _ in try json(agent.status()) }
        router.get(RouterPath(AdminPath.services)) { _, _ in try json(await agent.serviceViews()) }
        router.get(RouterPath(AdminPath.health)) { _, _ in try json(await agent.healthViews()) }
        router.get(RouterPath(AdminPath.explain)) { request, _ in
            let target = request.uri.queryParameters.get("target") ?? ""
            if let problem = ExplainTarget.problem(target) {
                return Response(status: .badRequest, body: ResponseBody(byteBuffer: ByteBuffer(string: problem + "\n")))
            }
            return try json(await agent.explain(target))
        }
        router.post(RouterPath(AdminPath.sync)) { _, _ in
            agent.board.requestSync(reload: true)
            return Response(status: .accepted)
        }
        router.post(RouterPath(AdminPath.resync)) { _, _ in
            agent.board.requestSync(reload: false)
            return Response(status: .accepted)
        }
        return HTTPListener.service(
            name: "admin socket",
            location: path,
            router: router,
            address: .unixDomainSocket(path: path),
            limits: limits,
            // bind(2) creates the socket 0777 & ~umask; it is 0600 right after, and before that only root can
            // reach it: its directory is the agent's and 0700 (checked above). The umask is not narrowed for
            // the bind: it is process-wide, and other threads create files and directories meanwhile.
            logger: logger,
            onServerRunning: { channel in
                if chmod(path, 0o600) != 0 {
                    logger.error("cannot restrict the admin socket", metadata: ["path": "\(path)"])
                }
                await onServerRunning(channel)
            }
        )
    }

    /// Makes `path` ready for the agent to bind: its directory is created 0700 when missing, and must
    /// otherwise be a real directory owned by the agent's user that neither group nor others can write
    /// (sticky or not); at `path` itself only a socket (stale, from a previous run) is removed.
    /// - Throws: ``AgentError`` naming the path and what is wrong with it.
    public static func prepareSocketPath(_ path: String) throws(AgentError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try prepareDirectory(directory)
        }
        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else {
                throw AgentError.system(.adminSocket, "admin socket \(path)")
            }
            return
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw AgentError(
                .adminSocket,
                "admin socket \(path) exists and is \(kind(of: info.st_mode)), not a socket; "
                    + "refusing to replace it (move it away or set another adminSocket)"
            )
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw AgentError.system(.adminSocket, "admin socket \(path): cannot remove the stale socket")
        }
    }

    private static func prepareDirectory(_ directory: String) throws(AgentError) {
        var info = stat()
        if lstat(directory, &info) != 0 {
            guard errno == ENOENT else {
                throw AgentError.system(.adminSocket, "admin socket directory \(directory)")
            }
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw AgentError.system(.adminSocket, "admin socket directory \(directory)")
            }
            // mkdir's mode is masked by the umask; make sure, and check what is there now (it may have raced).
            _ = chmod(directory, 0o700)
            guard lstat(directory, &info) == 0 else {
                throw AgentError.system(.adminSocket, "admin socket directory \(directory)")
            }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw AgentError(
                .adminSocket,
                "admin socket directory \(directory) is \(kind(of: info.st_mode)), not a directory"
            )
        }
        guard info.st_uid == geteuid() else {
            throw AgentError(
                .adminSocket,
                "admin socket directory \(directory) is owned by uid \(info.st_uid), not \(geteuid()); "
                    + "its owner could replace the socket: use a directory only root owns (chown root, chmod 0700)"
            )
        }
        guard info.st_mode & 0o022 == 0 else {
            throw AgentError(
                .adminSocket,
                "admin socket directory \(directory) has mode \(String(info.st_mode & 0o7777, radix: 8)), "
                    + "writable by group or others who could replace the socket: chmod 0700 it"
            )
        }
    }

    /// What a file type is, for an error message.
    static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFLNK: "a symbolic link"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "a file of unknown type"
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

/// /metrics (Prometheus text), /healthz (liveness) and /readyz (ready once the desired state is programmed and
/// while the manifests load; otherwise 503 with the reason),
/// held to `limits` (see ``ResourceBudget``).
public enum MetricsServer {
    public static func application(
        agent: Agent,
        metrics: AgentMetrics,
        address: String,
        limits: HTTPListenerLimits = .metrics,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws(AgentError) -> any Service {
        let listen: ListenAddress
        do throws(ListenAddress.ParseError) {
            listen = try ListenAddress(parsing: address)
        } catch {
            throw AgentError(.configuration, "metricsAddress \"\(address)\"", cause: error)
        }
        let (host, port) = (listen.host, Int(listen.port))
        let router = Router()
        let kernelStatistics = KernelStatisticsReader(agent: agent)
        router.get("/metrics") { _, _ in
            var text = metrics.registry.emitToString()
            text += await kernelStatistics.text()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text))
            )
        }
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ in
            let readiness = agent.readiness
            return readiness.ready
                ? Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ready\n")))
                : Response(
                    status: .serviceUnavailable,
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "not ready: \(readiness.reason)\n"))
                )
        }
        return HTTPListener.service(
            name: "metrics listener",
            location: address,
            router: router,
            address: .hostname(host, port: port),
            limits: limits,
            logger: logger,
            onServerRunning: onServerRunning
        )
    }
}
