import Foundation
import KubernetesManifests
import KubernetesStandIn
import KubernetesWire
import Logging
import Metrics
import ServiceTables
import Synchronization
import Testing

@testable import KubernetesAPI

/// The API source hands over the healthCheckNodePorts a manifest build puts in the desired state: per
/// Service, rebuilt when its slices change, gone with it, and a port two Services ask for refused.
@Suite struct HealthCheckNodePortSourceTests {
    static func service(_ name: String, clusterIP: String, healthCheckNodePort: Int = 30999) -> String {
        #"{"metadata":{"name":"\#(name)","namespace":"shop"},"spec":{"type":"LoadBalancer","clusterIP":"\#(clusterIP)","clusterIPs":["\#(clusterIP)"],"externalTrafficPolicy":"Local","healthCheckNodePort":\#(healthCheckNodePort),"ports":[{"protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080}]}}"#
    }

    /// A slice of `web` with one endpoint on node a (ready as given) and one on node b.
    static func slice(localReady: Bool) -> String {
        #"{"metadata":{"name":"web-1","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"","protocol":"TCP","port":8080}],"endpoints":[{"addresses":["10.244.1.2"],"nodeName":"a","conditions":{"ready":\#(localReady)}},{"addresses":["10.244.2.2"],"nodeName":"b","conditions":{"ready":true}}]}"#
    }

    final class Answers: Sendable {
        let last = Mutex<[UInt16: HealthCheckNodePort]?>(nil)
        let deliveries = Mutex(0)
    }

    @Test func healthCheckNodePortsFollowTheServiceAndItsSlices() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        server.apply(.services, Self.service("web", clusterIP: "10.96.0.20"))
        server.apply(.endpointSlices, Self.slice(localReady: true))
        let answers = Answers()
        let source = KubernetesSource(
            client: try APIClient(connection: try KubeConfig.load(path: try server.writeKubeconfig()), limits: .fast),
            options: TranslationOptions(nodeName: "a"),
            logger: Logger(label: "source-tests") { _ in SwiftLogNoOpLogHandler() },
            metricsFactory: NOOPMetricsHandler.instance,
            healthCheckNodePorts: { map in
                answers.last.withLock { $0 = map }
                answers.deliveries.withLock { $0 += 1 }
            },
            deliver: { _, _ in }
        )
        let task = Task { await source.run() }
        func current() -> [UInt16: HealthCheckNodePort]? { answers.last.withLock { $0 } }
        func until(_ what: String, _ condition: () async -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(60)  // a hang guard, not a timing under test
            while ContinuousClock.now < deadline {
                if await condition() { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("timed out waiting until \(what)")
            throw StandInError("timed out waiting until \(what)")
        }

        try await until("listed") { current() != nil }
        #expect(current() == [30999: HealthCheckNodePort(namespace: "shop", name: "web", localEndpoints: 1)])

        // The local endpoint stops being ready: the port answers 0 local endpoints (503).
        server.apply(.endpointSlices, Self.slice(localReady: false))
        try await until("the local endpoint is not ready") { current()?[30999]?.localEndpoints == 0 }

        // A second Service asking for the same port is refused; the first keeps it.
        server.apply(.services, Self.service("api", clusterIP: "10.96.0.21"))
        try await until("the second Service is built") { await source.problems.count == 1 }
        let problem = await source.problems[ObjectKey(namespace: "shop", name: "api")]
        #expect(problem?.contains("port 30999 is also the healthCheckNodePort of shop/web") == true, "\(problem ?? "")")
        #expect(current()?[30999]?.name == "web")

        // The Service goes: so does its port.
        server.delete(.services, namespace: "shop", name: "web")
        server.delete(.services, namespace: "shop", name: "api")
        try await until("no Service asks") { current() == [:] }
        task.cancel()
        await task.value
        await source.client.shutdown()
        await server.shutdown()
    }
}
