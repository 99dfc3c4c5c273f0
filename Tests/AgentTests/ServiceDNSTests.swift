import DNSCodec
import Foundation
import IPVS
import KubernetesManifests
import Logging
import NIOCore
import NIOPosix
import Prometheus
import Synchronization
import TestSupport
import Testing

@testable import Agent

/// The responder as the agent runs it: the name table to zones, served over UDP and TCP on 127.0.0.1, and
/// asked by a real resolver client, dig (bind9-dnsutils).
@Suite(.serialized) struct ServiceDNSTests {
    static let dig = "/usr/bin/dig"

    static func table(extraHeadless: [String] = []) -> ServiceNameTable {
        ServiceNameTable(entries: [
            .init(
                namespace: "production",
                name: "backend-api",
                clusterIPs: [IPAddress("10.96.100.50")!, IPAddress("fd00:10:96::32")!],
                ports: [.init(name: "http", proto: .tcp, port: 80)]
            ),
            .init(
                namespace: "data",
                name: "db",
                headless: true,
                endpointAddresses: [IPAddress("10.244.1.5")!, IPAddress("10.244.2.5")!]
                    + extraHeadless.map { IPAddress($0)! },
                ports: [.init(name: "pg", proto: .tcp, port: 5432)]
            ),
            .init(namespace: "data", name: "empty", headless: true),
            .init(
                namespace: "big",
                name: "many",
                headless: true,
                endpointAddresses: (1...100).map { IPAddress("10.245.0.\($0)")! }
            ),
        ])
    }

    /// A running server on a free port of 127.0.0.1, and the publisher feeding it.
    struct Running {
        let channels: DNSServer.Channels
        let publisher: ServiceZonePublisher
        let registry: PrometheusCollectorRegistry
        let port: Int

        /// `ipvsd_dns_queries_total` for one transport and response code, from the exposition text.
        func queries(_ transport: String, _ rcode: String) -> Int? {
            MetricsText.value(
                in: registry.emitToString(),
                of: "ipvsd_dns_queries_total",
                labels: ["transport": transport, "rcode": rcode]
            )
        }

        func dig(_ arguments: String...) throws -> String {
            guard FileManager.default.isExecutableFile(atPath: ServiceDNSTests.dig) else {
                Issue.record("dig is missing: install bind9-dnsutils (Tests/vm/setup)")
                return ""
            }
            let result = try ChildProcess.run(
                ServiceDNSTests.dig,
                ["@127.0.0.1", "-p", "\(port)", "+time=5", "+tries=1"] + arguments
            )
            #expect(result.status == 0, "dig \(arguments): \(result)")
            return result.stdout
        }
    }

    static func start(limits: DNSListenerLimits = DNSListenerLimits()) async throws -> Running {
        let publisher = ServiceZonePublisher(
            domain: try DNSName("cluster.local"),
            logger: Logger(label: "dns-tests") { _ in SwiftLogNoOpLogHandler() }
        )
        publisher.publish(table())
        let registry = PrometheusCollectorRegistry()
        let metrics = DNSMetrics(factory: PrometheusMetricsFactory(registry: registry))
        // A port free for UDP now; TCP binds the same one (a race with another process is a test error).
        for _ in 0..<20 {
            let port = Int.random(in: 20000..<60000)
            let settings = DNSSettings(listen: ListenAddress(address: IPAddress("127.0.0.1")!, port: UInt16(port)))
            let server = DNSServer(
                settings: settings,
                publisher: publisher,
                limits: limits,
                metrics: metrics,
                logger: Logger(label: "dns-tests")
            )
            if let channels = try? await server.bind() {
                return Running(channels: channels, publisher: publisher, registry: registry, port: port)
            }
        }
        throw AgentError(.listener, "no free port for the DNS test server")
    }

    @Test func aAndAAAAForAClusterIPService() async throws {
        let server = try await Self.start()
        defer { server.channels.close() }
        #expect(try server.dig("+short", "backend-api.production.svc.cluster.local", "A") == "10.96.100.50\n")
        #expect(try server.dig("+short", "backend-api.production.svc.cluster.local", "AAAA") == "fd00:10:96::32\n")
        let full = try server.dig("backend-api.production.svc.cluster.local", "A")
        #expect(full.contains("status: NOERROR"))
        #expect(full.contains("flags: qr aa rd;"))
    }

    @Test func headlessResolvesToItsReadyEndpoints() async throws {
        let server = try await Self.start()
        defer { server.channels.close() }
        let answer = try server.dig("+short", "db.data.svc.cluster.local", "A")
        #expect(Set(answer.split(separator: "\n")) == ["10.244.1.5", "10.244.2.5"])
        // Names follow the table at once: a new endpoint is in the next answer.
        server.publisher.publish(Self.table(extraHeadless: ["10.244.3.5"]))
        let after = try server.dig("+short", "db.data.svc.cluster.local", "A")
        #expect(Set(after.split(separator: "\n")) == ["10.244.1.5", "10.244.2.5", "10.244.3.5"])
    }

    @Test func srvForANamedPort() async throws {
        let server = try await Self.start()
        defer { server.channels.close() }
        let answer = try server.dig("+short", "_http._tcp.backend-api.production.svc.cluster.local", "SRV")
        #expect(answer == "0 100 80 backend-api.production.svc.cluster.local.\n")
    }

    @Test func ptrForAClusterIP() async throws {
        let server = try await Self.start()
        defer { server.channels.close() }
        #expect(try server.dig("+short", "-x", "10.96.100.50") == "backend-api.production.svc.cluster.local.\n")
        #expect(try server.dig("+short", "-x", "fd00:10:96::32") == "backend-api.production.svc.cluster.local.\n")
        #expect(try server.dig("-x", "10.96.100.51").contains("status: REFUSED"))
    }

    @Test func nxdomainNodataAndRefused() async throws {
        let server = try await Self.start()
        defer { server.channels.close() }
        let missing = try server.dig("nope.production.svc.cluster.local", "A")
        #expect(missing.contains("status: NXDOMAIN"))
        #expect(missing.contains("AUTHORITY: 1"))
        #expect(missing.contains("cluster.local.\t\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local."))
        let nodata = try server.dig("db.data.svc.cluster.local", "AAAA")
        #expect(nodata.contains("status: NOERROR"))
        #expect(nodata.contains("ANSWER: 0, AUTHORITY: 1"))
        // A headless Service with no ready endpoint exists: NODATA, not NXDOMAIN.
        #expect(try server.dig("empty.data.svc.cluster.local", "A").contains("ANSWER: 0, AUTHORITY: 1"))
        #expect(try server.dig("example.com", "A").contains("status: REFUSED"))
        #expect(server.queries("udp", "NXDOMAIN") == 1)
        #expect(server.queries("udp", "NOERROR") == 2)
        #expect(server.queries("udp", "REFUSED") == 1)
        #expect(server.queries("tcp", "NOERROR") == 0)
    }

    @Test func largeAnswerTruncatesOverUDPAndCompletesOverTCP() async throws {
        let server = try await Self.start()
        defer { server.channels.close() }
        let truncated = try server.dig("+noedns", "+ignore", "many.big.svc.cluster.local", "A")
        #expect(truncated.contains("flags: qr aa tc rd;"))
        #expect(truncated.contains("ANSWER: 0,"))
        // dig retries over TCP on TC by itself; +tcp asks over TCP from the start.
        let retried = try server.dig("+noedns", "+short", "many.big.svc.cluster.local", "A")
        #expect(retried.split(separator: "\n").count == 100)
        let tcp = try server.dig("+tcp", "+short", "many.big.svc.cluster.local", "A")
        #expect(tcp.split(separator: "\n").count == 100)
    }

    /// The agent hands the responder a table after the first good load, and a new one when a reload changes
    /// it: the example's headless Service follows its slice.
    @Test func agentPublishesTheTableOnLoadsThatChangeIt() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let received = Mutex<[ServiceNameTable]>([])
        await agent.setNameHandler { table in received.withLock { $0.append(table) } }
        #expect(received.withLock { $0.isEmpty })  // nothing loaded yet: no table, so DNS refuses
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let first = try #require(received.withLock { $0.last })
        let headless = try #require(first.entries.first { $0.name == "backend-api-headless" })
        #expect(headless.headless && headless.endpointAddresses.map(\.description) == ["10.244.2.21"])
        await agent.requestReload(at: t0 + .seconds(1))
        await agent.tick(now: t0 + .seconds(2))
        #expect(received.withLock { $0.count } == 1)  // same manifests: no new table
        try sandbox.write(
            """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: backend-api-headless-2, namespace: default, labels: {kubernetes.io/service-name: backend-api-headless}}
            addressType: IPv4
            endpoints:
            - addresses: [10.244.2.23]
              conditions: {ready: true}
            """,
            to: sandbox.manifests + "/headless-2.yaml"
        )
        await agent.requestReload(at: t0 + .seconds(3))
        await agent.tick(now: t0 + .seconds(4))
        let second = try #require(received.withLock { $0.last })
        #expect(received.withLock { $0.count } == 2)
        let moved = try #require(second.entries.first { $0.name == "backend-api-headless" })
        #expect(moved.endpointAddresses.map(\.description) == ["10.244.2.21", "10.244.2.23"])
    }

    @Test func idleTCPConnectionIsClosed() async throws {
        var limits = DNSListenerLimits()
        limits.idleTimeout = .milliseconds(200)
        let server = try await Self.start(limits: limits)
        defer { server.channels.close() }
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: server.port).get()
        // Sends half a length prefix and nothing more: the server must close the connection on its own.
        try await client.writeAndFlush(ByteBuffer(bytes: [0x00])).get()
        // Bounded so that a server that never closes fails the test instead of hanging the run.
        #expect(await Self.eventually { !client.isActive }, "the idle connection was not closed")
        try? await client.close()
    }

    /// Polls `condition` every 10 ms for at most 30 s (a guard against hanging, not a timing).
    static func eventually(_ condition: () -> Bool) async -> Bool {
        let limit = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < limit else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    @Test func tcpConnectionsBeyondTheCapEvictTheOldest() async throws {
        var limits = DNSListenerLimits()
        limits.maxConnections = 2
        let server = try await Self.start(limits: limits)
        defer { server.channels.close() }
        var clients: [any Channel] = []
        for _ in 0..<3 {
            clients.append(
                try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: server.port).get()
            )
        }
        // Connections reach the server's event loops in no fixed order: one of the three is evicted.
        #expect(await Self.eventually { clients.count { !$0.isActive } == 1 }, "no connection was evicted")
        #expect(clients.count { !$0.isActive } == 1)
        // The newest still gets answers.
        #expect(try server.dig("+tcp", "+short", "backend-api.production.svc.cluster.local", "A") == "10.96.100.50\n")
        for client in clients { try? await client.close() }
    }
}
