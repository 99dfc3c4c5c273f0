import IPVS
import KubernetesManifests
import ServiceTables
import Testing
import YAMLSyntax

/// Endpoint fields the shipped examples always set, left out here: a slice without a namespace, an endpoint
/// without conditions, a targetRef without a namespace, and a hostname in place of a targetRef.
private let sparseEndpoints = """
    apiVersion: v1
    kind: Service
    metadata: {name: backend-api, namespace: production}
    spec:
      clusterIP: 10.96.100.60
      ports:
      - {name: http, protocol: TCP, port: 80, targetPort: 8080}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: backend-api}
    spec:
      clusterIP: 10.96.100.50
      ports:
      - {name: http, port: 80, targetPort: 8080}
      - {name: metrics, port: 9090, targetPort: 9090}
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: backend-api-abc12
      namespace: production
      labels: {kubernetes.io/service-name: backend-api}
    addressType: IPv4
    ports:
    - {name: http, protocol: TCP, port: 8080}
    endpoints:
    - addresses: [10.244.2.7]
      targetRef: {kind: Pod, name: backend-api-7d9f-x2}
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: backend-api-def34
      labels: {kubernetes.io/service-name: backend-api}
    addressType: IPv4
    ports:
    - {name: http, port: 8080}
    - {name: metrics, port: 9090}
    endpoints:
    - addresses: [10.244.3.9]
      hostname: api-0
    """

/// deploy/examples/manifests, as the README's demo loads them.
@Suite struct ExampleServicesTests {
    @Test func producesExactlyTheExpectedVirtualAndRealServers() throws {
        let (state, allocations, notes) = try buildExampleState()
        let allocated = try #require(allocations.addresses["production/backend-api/IPv4"].flatMap(IPAddress.init))
        #expect(allocations.addresses.count == 1)
        #expect(IPNetwork("10.96.0.0/12")!.contains(allocated))

        let expected: [VirtualServer.ID: [String]] = [
            .service(.tcp, allocated, port: 80): ["10.244.1.11:8080", "10.244.1.12:8080"],
            tcp("10.96.100.50", 80): ["10.244.2.21:8080", "10.244.2.22:8080"],
            tcp("10.96.100.50", 9090): ["10.244.2.21:9090", "10.244.2.22:9090"],
            tcp("10.96.100.50", 50051): ["10.244.2.21:50051", "10.244.2.22:50051"],
        ]
        #expect(state.virtualServers.mapValues(realServerList) == expected)
        #expect(notes == ["default/backend-api-headless: headless Service, no virtual server"])

        let prod = try #require(state.virtualServers[.service(.tcp, allocated, port: 80)])
        #expect(prod.origin == ServiceOrigin(namespace: "production", name: "backend-api", portName: "http"))
        #expect(prod.virtualServer.scheduler == .roundRobin)
        #expect(prod.virtualServer.flags.isEmpty)
        #expect(prod.healthCheck == nil)
        #expect(prod.allDownPolicy == .keepAll)
        let first = try #require(prod.realServers[rs("10.244.1.11", 8080)])
        #expect(first.realServer.forwarding == .masquerade)
        #expect(first.realServer.weight == 1)
        #expect(first.conditions == .ready)
        #expect(first.target == "production/backend-api-7d9f-a")
        let metrics = state.virtualServers[tcp("10.96.100.50", 9090)]
        #expect(metrics?.realServers[rs("10.244.2.22", 9090)]?.target == "default/backend-api-5c4b-y")
        #expect(state.virtualServers[tcp("10.96.100.50", 50051)]?.origin.description == "default/backend-api:grpc")
    }

    @Test func allocationIsStableAcrossBuildsAndAvoidsStaticClusterIPs() throws {
        let first = try buildExampleState()
        let second = try buildExampleState(allocations: first.allocations)
        #expect(second.allocations == first.allocations)
        #expect(second.state == first.state)
        #expect(first.allocations.addresses["production/backend-api/IPv4"] != "10.96.100.50")
    }

    @Test func missingEndpointFieldsTakeKubernetesDefaults() throws {
        let (state, _, notes) = try buildState(sparseEndpoints)
        #expect(notes.isEmpty)
        let expected: [VirtualServer.ID: [String]] = [
            tcp("10.96.100.60", 80): ["10.244.2.7:8080"],
            tcp("10.96.100.50", 80): ["10.244.3.9:8080"],
            tcp("10.96.100.50", 9090): ["10.244.3.9:9090"],
        ]
        // The namespace-less slice and ports without a protocol matched default/backend-api over TCP.
        #expect(state.virtualServers.mapValues(realServerList) == expected)

        let prod = try #require(state.virtualServers[tcp("10.96.100.60", 80)]?.realServers[rs("10.244.2.7", 8080)])
        // No conditions is ready; a targetRef without a namespace is in the slice's namespace.
        #expect(prod.conditions == .ready)
        #expect(prod.target == "production/backend-api-7d9f-x2")
        #expect(state.virtualServers[tcp("10.96.100.50", 9090)]?.realServers[rs("10.244.3.9", 9090)]?.target == "api-0")
    }
}
