import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import ServiceTables
import Synchronization

/// The healthCheckNodePort listeners, answered the way kube-proxy's service health server does
/// (pkg/proxy/healthcheck/service_health.go): any path, a JSON body naming the Service with its local
/// endpoint count, 200 when there is at least one and the agent is healthy, else 503; the count also in
/// `X-Load-Balancing-Endpoint-Weight`. External load balancers use it to send traffic only to nodes with
/// a local endpoint, which externalTrafficPolicy Local needs.
///
/// One listener per port on 0.0.0.0, started and stopped as Services come and go, each held to
/// ``HTTPListenerLimits/healthCheckNodePort``; at most ``maximumListeners`` at once (their descriptors are
/// in ``ResourceBudget``). Ports beyond it are not served and are reported.
final class HealthCheckNodePorts: Sendable {
    static let maximumListeners = 16

    private struct State {
        var answers: [UInt16: HealthCheckNodePort] = [:]
        var healthy = false
        var groups: [UInt16: ServiceGroup] = [:]
        var stopped = false
    }

    private let state = Mutex(State())
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// What each port answers now. Starts listeners for new ports and stops the ones no longer wanted.
    /// - Returns: the ports not served because of ``maximumListeners``.
    @discardableResult
    func update(_ answers: [UInt16: HealthCheckNodePort], healthy: Bool) -> [UInt16] {
        let (start, stop, refused) = state.withLock { state -> ([UInt16], [ServiceGroup], [UInt16]) in
            state.answers = answers
            state.healthy = healthy
            guard !state.stopped else { return ([], [], []) }
            let wanted = answers.keys.sorted()
            var stop: [ServiceGroup] = []
            for port in state.groups.keys where answers[port] == nil {
                if let group = state.groups.removeValue(forKey: port) { stop.append(group) }
            }
            var start: [UInt16] = []
            var refused: [UInt16] = []
            for port in wanted where state.groups[port] == nil {
                if state.groups.count + start.count >= Self.maximumListeners {
                    refused.append(port)
                } else {
                    start.append(port)
                }
            }
            return (start, stop, refused)
        }
        for group in stop { Task { await group.triggerGracefulShutdown() } }
        for port in start { launch(port) }
        return refused
    }

    /// Stops every listener (the agent's shutdown).
    func stopAll() async {
        let groups = state.withLock { state in
            state.stopped = true
            defer { state.groups = [:] }
            return Array(state.groups.values)
        }
        for group in groups { await group.triggerGracefulShutdown() }
    }

    /// The response for `port`, read at request time.
    func answer(_ port: UInt16) -> Response {
        let (entry, healthy) = state.withLock { ($0.answers[port], $0.healthy) }
        guard let entry else { return Response(status: .notFound) }
        let (ok, body) = Self.reply(entry, healthy: healthy)
        return Response(
            status: ok ? .ok : .serviceUnavailable,
            headers: [
                .contentType: "application/json", HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                HTTPField.Name("X-Load-Balancing-Endpoint-Weight")!: "\(entry.localEndpoints)",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body))
        )
    }

    /// Whether the answer is 200 (else 503), and its JSON body: kube-proxy's fields, on one line.
    static func reply(_ entry: HealthCheckNodePort, healthy: Bool) -> (ok: Bool, body: String) {
        // Namespaces and names are DNS labels, but the escaping does not rely on it.
        let json = StructuredLogHandler.jsonString
        let body = """
            {"service":{"namespace":\(json(entry.namespace)),"name":\(json(entry.name))},\
            "localEndpoints":\(entry.localEndpoints),"serviceProxyHealthy":\(healthy)}
            """
        return (entry.localEndpoints > 0 && healthy, body)
    }

    private func launch(_ port: UInt16) {
        let router = Router()
        router.get("/") { [self] _, _ in answer(port) }
        router.get("/**") { [self] _, _ in answer(port) }
        let listener = HTTPListener.service(
            name: "healthCheckNodePort listener",
            location: "0.0.0.0:\(port)",
            router: router,
            address: .hostname("0.0.0.0", port: Int(port)),
            limits: .healthCheckNodePort,
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [listener], logger: logger))
        let kept = state.withLock { state -> Bool in
            guard !state.stopped, state.answers[port] != nil, state.groups[port] == nil else { return false }
            state.groups[port] = group
            return true
        }
        guard kept else { return }
        let logger = logger
        Task {
            do {
                try await group.run()
            } catch {
                logger.error("healthCheckNodePort listener failed", metadata: ["port": "\(port)", "error": "\(error)"])
            }
            // A listener that could not bind is retried at the next update.
            state.withLock { state in
                if state.groups[port] === group { state.groups[port] = nil }
            }
        }
    }
}

/// Runs until the agent's shutdown, then stops the healthCheckNodePort listeners.
struct HealthCheckNodePortService: Service {
    let listeners: HealthCheckNodePorts

    func run() async throws {
        try? await gracefulShutdown()
        await listeners.stopAll()
    }
}
