import IPVS
import KubernetesManifests
import Testing

/// The name table DNS serves: built beside the desired state from the same manifests and allocations.
@Suite struct ServiceNameTableTests {
    static let manifests = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: default}
        spec:
          clusterIP: 10.96.0.10
          ports:
          - {name: http, port: 80, targetPort: 8080}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: plain, namespace: default}
        spec:
          clusterIP: 10.96.0.11
          ports:
          - {port: 8443}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: auto, namespace: default}
        spec:
          ports:
          - {name: dns, protocol: UDP, port: 53}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: db, namespace: data}
        spec:
          clusterIP: None
          ports:
          - {name: pg, port: 5432, targetPort: pg}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: ext, namespace: default}
        spec:
          type: ExternalName
          externalName: example.com
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: db-1, namespace: data, labels: {kubernetes.io/service-name: db}}
        addressType: IPv4
        ports:
        - {name: pg, protocol: TCP, port: 5433}
        endpoints:
        - addresses: [10.244.2.5]
          conditions: {ready: true}
        - addresses: [10.244.1.5]
          conditions: {ready: true}
        - addresses: [10.244.3.5]
          conditions: {ready: false}
        """

    static func table() throws -> (ServiceNameTable, ClusterIPAllocations) {
        let set = try ManifestLoader.parse(manifests, file: "names.yaml")
        let built = try DesiredStateBuilder.build(
            set,
            options: TranslationOptions(),
            allocations: ClusterIPAllocations()
        )
        return (ServiceNameTable.build(set, allocations: built.allocations), built.allocations)
    }

    @Test func clusterIPServiceWithNamedPortsOnly() throws {
        let (table, _) = try Self.table()
        let web = try #require(table.entries.first { $0.name == "web" })
        #expect(web.clusterIPs == [IPAddress("10.96.0.10")!])
        #expect(!web.headless)
        #expect(web.ports == [ServiceNameTable.NamedPort(name: "http", proto: .tcp, port: 80)])
    }

    @Test func unnamedPortHasNoSRVName() throws {
        let (table, _) = try Self.table()
        let plain = try #require(table.entries.first { $0.name == "plain" })
        #expect(plain.clusterIPs == [IPAddress("10.96.0.11")!])
        #expect(plain.ports.isEmpty)
    }

    @Test func allocatedClusterIPIsTheDesiredStateOne() throws {
        let (table, allocations) = try Self.table()
        let auto = try #require(table.entries.first { $0.name == "auto" })
        #expect(auto.clusterIPs.map(\.description) == [try #require(allocations.addresses["default/auto/IPv4"])])
        #expect(auto.ports == [ServiceNameTable.NamedPort(name: "dns", proto: .udp, port: 53)])
    }

    @Test func headlessHasReadyEndpointsAndTheirTargetPort() throws {
        let (table, _) = try Self.table()
        let db = try #require(table.entries.first { $0.name == "db" })
        #expect(db.headless)
        #expect(db.clusterIPs.isEmpty)
        #expect(db.endpointAddresses == [IPAddress("10.244.1.5")!, IPAddress("10.244.2.5")!])
        #expect(db.ports == [ServiceNameTable.NamedPort(name: "pg", proto: .tcp, port: 5433)])
    }

    @Test func externalNameIsLeftOut() throws {
        let (table, _) = try Self.table()
        #expect(
            table.entries.map { "\($0.namespace)/\($0.name)" } == [
                "data/db", "default/auto", "default/plain", "default/web",
            ]
        )
    }
}
