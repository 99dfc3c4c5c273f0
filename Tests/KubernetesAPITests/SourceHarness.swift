import Foundation
import IPVS
import KubernetesManifests
import KubernetesStandIn
import KubernetesWire
import Logging
import Metrics
import ServiceTables
import Testing

@testable import KubernetesAPI

/// The deltas a source delivered, folded into one desired state.
actor Recorder {
    var desired: [VirtualServer.ID: DesiredVirtualServer] = [:]
    var deliveries = 0
    var initialDeliveries = 0
    var lastDelta: [VirtualServer.ID: DesiredVirtualServer?] = [:]

    func receive(_ changes: [VirtualServer.ID: DesiredVirtualServer?], initial: Bool) {
        deliveries += 1
        if initial { initialDeliveries += 1 }
        lastDelta = changes
        for (id, value) in changes { desired[id] = value }
    }

    /// `address:port` of each real server of `id`, sorted; nil when the virtual server is not desired.
    func realServers(_ id: VirtualServer.ID) -> [String]? {
        desired[id].map { $0.realServers.keys.map(\.description).sorted() }
    }
}

/// A stand-in API server and a `KubernetesSource` watching it, for one test.
final class SourceHarness: Sendable {
    let server: StandInAPIServer
    let source: KubernetesSource
    let recorder = Recorder()
    let task: Task<Void, Never>

    /// Starts the server, lets `prepare` fill it, then starts the source.
    static func start(
        limits: APILimits = .fast,
        token: String? = nil,
        options: TranslationOptions = TranslationOptions(),
        prepare: (StandInAPIServer) throws -> Void = { _ in }
    ) async throws -> SourceHarness {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        try prepare(server)
        let path = try server.writeKubeconfig(token: token)
        return try SourceHarness(
            server: server,
            connection: try KubeConfig.load(path: path),
            limits: limits,
            options: options
        )
    }

    init(
        server: StandInAPIServer,
        connection: APIConnection,
        limits: APILimits,
        options: TranslationOptions = TranslationOptions()
    ) throws {
        self.server = server
        let recorder = recorder
        source = KubernetesSource(
            client: try APIClient(connection: connection, limits: limits),
            options: options,
            logger: Logger(label: "source-tests") { _ in SwiftLogNoOpLogHandler() },
            metricsFactory: NOOPMetricsHandler.instance,
            deliver: { changes, initial in await recorder.receive(changes, initial: initial) }
        )
        let source = source
        task = Task { await source.run() }
    }

    func stop() async {
        task.cancel()
        await task.value
        await source.client.shutdown()
        await server.shutdown()
    }

    func status(_ resource: APIResource) -> ResourceStatus {
        source.statuses.first { $0.resource == resource }!
    }

    /// Waits until `condition` holds (checked every 20 ms, for at most 60 s: a guard against a hang, not a
    /// timing under test).
    func wait(
        _ what: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation,
        until condition: () async -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting until \(what); requests: \(server.requests)", sourceLocation: sourceLocation)
        throw StandInError("timed out waiting until \(what)")
    }

    func lists(_ resource: StandInAPIServer.Resource) -> [StandInAPIServer.Request] {
        server.requests.filter { $0.resource == resource && $0.isList }
    }

    func watches(_ resource: StandInAPIServer.Resource) -> [StandInAPIServer.Request] {
        server.requests.filter { $0.resource == resource && $0.isWatch }
    }
}

extension APILimits {
    /// Short waits, so failure tests do not sleep.
    static var fast: APILimits {
        var limits = APILimits()
        limits.initialBackoff = .milliseconds(10)
        limits.maxBackoff = .milliseconds(50)
        return limits
    }
}

func tcp(_ address: String, _ port: UInt16) -> VirtualServer.ID {
    .service(.tcp, IPAddress(address)!, port: port)
}
