import IPVS
import KubernetesManifests
import LoadBalancer
import Testing

/// The two Services of the design brief, a headless variant, and their EndpointSlices.
private let examples = """
    apiVersion: v1
    kind: Service
    metadata: {name: backend-api, namespace: production}
    spec:
      type: ClusterIP
      selector: {app: backend-api, tier: backend}
      ports:
      - {name: http, protocol: TCP, port: 80, targetPort: 8080}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: backend-api}
    spec:
      clusterIP: 10.96.100.50
      selector: {app: backend-api}
      ports:
      - {name: http, port: 80, targetPort: 8080}
      - {name: metrics, port: 9090, targetPort: 9090}
      - {name: grpc, port: 50051, targetPort: 50051}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: backend-headless, namespace: production}
    spec:
      clusterIP: None
      selector: {app: backend-api}
      ports:
      - {name: http, port: 80, targetPort: 8080}
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
    - addresses: [10.244.1.5]
      conditions: {ready: true}
      targetRef: {kind: Pod, namespace: production, name: backend-api-7d9f-x1}
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
    - {name: grpc, port: 50051}
    endpoints:
    - addresses: [10.244.3.9]
      hostname: api-0
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: backend-headless-1
      namespace: production
      labels: {kubernetes.io/service-name: backend-headless}
    addressType: IPv4
    ports:
    - {name: http, port: 8080}
    endpoints:
    - addresses: [10.244.1.5]
    """

@Suite struct ExampleServicesTests {
    @Test func producesExactlyTheExpectedVirtualAndRealServers() throws {
        let (state, allocations, notes) = try buildState(examples)
        let allocated = try #require(allocations.addresses["production/backend-api/IPv4"].flatMap(IPAddress.init))
        #expect(allocations.addresses.count == 1)
        #expect(IPNetwork("10.96.0.0/12")!.contains(allocated))

        let expected: [VirtualServer.ID: [String]] = [
            .service(.tcp, allocated, port: 80): ["10.244.1.5:8080", "10.244.2.7:8080"],
            tcp("10.96.100.50", 80): ["10.244.3.9:8080"],
            tcp("10.96.100.50", 9090): ["10.244.3.9:9090"],
            tcp("10.96.100.50", 50051): ["10.244.3.9:50051"],
        ]
        #expect(state.virtualServers.mapValues(realServerList) == expected)
        #expect(notes == ["production/backend-headless: headless Service, no virtual server"])

        let prod = try #require(state.virtualServers[.service(.tcp, allocated, port: 80)])
        #expect(prod.origin == ServiceOrigin(namespace: "production", name: "backend-api", portName: "http"))
        #expect(prod.virtualServer.scheduler == .roundRobin)
        #expect(prod.virtualServer.flags.isEmpty)
        #expect(prod.healthCheck == nil)
        #expect(prod.allDownPolicy == .keepAll)
        let first = try #require(prod.realServers[rs("10.244.1.5", 8080)])
        #expect(first.realServer.forwarding == .masquerade)
        #expect(first.realServer.weight == 1)
        #expect(first.conditions == .ready)
        #expect(first.target == "production/backend-api-7d9f-x1")
        // A targetRef without a namespace is in the slice's namespace.
        #expect(prod.realServers[rs("10.244.2.7", 8080)]?.target == "production/backend-api-7d9f-x2")
        #expect(state.virtualServers[tcp("10.96.100.50", 9090)]?.realServers[rs("10.244.3.9", 9090)]?.target == "api-0")
        #expect(state.virtualServers[tcp("10.96.100.50", 50051)]?.origin.description == "default/backend-api:grpc")
    }

    @Test func allocationIsStableAcrossBuildsAndAvoidsStaticClusterIPs() throws {
        let first = try buildState(examples)
        let second = try buildState(examples, allocations: first.allocations)
        #expect(second.allocations == first.allocations)
        #expect(second.state == first.state)
        #expect(first.allocations.addresses["production/backend-api/IPv4"] != "10.96.100.50")
    }
}
