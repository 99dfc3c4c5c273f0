import IPVS
import KubernetesManifests
import ServiceTables
import Testing

/// internalTrafficPolicy, externalTrafficPolicy, topology hints and node ports, as kube-proxy applies them.
@Suite struct TrafficPolicyTests {
    /// A Service with a cluster IP, an external IP and a nodePort, and three endpoints on nodes a, b and c
    /// (the one on c not ready), each with the hints given.
    static func manifest(
        itp: String = "Cluster",
        etp: String = "Cluster",
        hints: [String] = ["", "", ""],
        type: String = "NodePort"
    ) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          type: \(type)
          clusterIP: 10.96.0.20
          externalIPs: [192.0.2.20]
          internalTrafficPolicy: \(itp)
          externalTrafficPolicy: \(etp)
          healthCheckNodePort: 30999
          trafficDistribution: PreferClose
          ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        ports: [{port: 8080}]
        endpoints:
        - {addresses: [10.244.1.2], nodeName: a, conditions: {ready: true}\(hints[0])}
        - {addresses: [10.244.2.2], nodeName: b, conditions: {ready: true}\(hints[1])}
        - {addresses: [10.244.3.2], nodeName: c, conditions: {ready: false}\(hints[2])}
        """
    }

    static let node = TranslationOptions(nodeName: "a", zone: "z1", nodePortAddresses: [IPAddress("198.51.100.7")!])

    func servers(_ state: DesiredState, _ address: String, _ port: UInt16 = 80) -> [String] {
        (state.virtualServers[tcp(address, port)]?.realServers.keys.map { "\($0.address)" } ?? ["<no vs>"]).sorted()
    }

    @Test func clusterPolicyUsesEveryEndpointAndNodePortsAreNotBound() throws {
        let (state, _, _) = try buildState(Self.manifest(), options: Self.node)
        for address in ["10.96.0.20", "192.0.2.20"] {
            #expect(servers(state, address) == ["10.244.1.2", "10.244.2.2", "10.244.3.2"])
        }
        #expect(servers(state, "198.51.100.7", 30080) == ["10.244.1.2", "10.244.2.2", "10.244.3.2"])
        #expect(state.virtualServers[tcp("198.51.100.7", 30080)]?.kind == .nodePort(.cluster))
        #expect(state.virtualServers[tcp("192.0.2.20", 80)]?.kind == .external(.cluster))
        #expect(state.virtualServers[tcp("10.96.0.20", 80)]?.kind == .clusterIP)
        #expect(state.addresses == [ip("10.96.0.20"), ip("192.0.2.20")])
    }

    @Test func internalLocalKeepsOnlyThisNodesEndpointsForTheClusterIP() throws {
        let (state, _, _) = try buildState(Self.manifest(itp: "Local"), options: Self.node)
        #expect(servers(state, "10.96.0.20") == ["10.244.1.2"])
        // External traffic follows externalTrafficPolicy, Cluster here.
        #expect(servers(state, "192.0.2.20") == ["10.244.1.2", "10.244.2.2", "10.244.3.2"])
        // No local endpoint at all: the virtual server stays, with no real servers (traffic dropped).
        var elsewhere = Self.node
        elsewhere.nodeName = "d"
        let (dropped, _, _) = try buildState(Self.manifest(itp: "Local"), options: elsewhere)
        #expect(servers(dropped, "10.96.0.20") == [])
        // No node name known: nothing is local.
        let (unknown, _, _) = try buildState(Self.manifest(itp: "Local"), options: TranslationOptions())
        #expect(servers(unknown, "10.96.0.20") == [])
    }

    /// Hairpin masquerade elements are for endpoints that may be local (kube-proxy's KUBE-LOOP-BACK): an
    /// endpoint is known to be elsewhere only when it and this node both have names, and they differ.
    @Test func endpointsOnOtherNamedNodesAreMarkedForTheHairpinRules() throws {
        func remote(_ state: DesiredState) -> [String] {
            (state.virtualServers[tcp("10.96.0.20", 80)]?.realServers.values ?? [])
                .filter(\.onOtherNode).map { "\($0.id.address)" }.sorted()
        }
        let (onA, _, _) = try buildState(Self.manifest(), options: Self.node)
        #expect(remote(onA) == ["10.244.2.2", "10.244.3.2"])
        let hairpin = try #require(MasqueradeMode.hairpin.rules(for: onA)).hairpin.map { "\($0.address)" }
        #expect(Set(hairpin) == ["10.244.1.2"])
        // This node's name unknown: any endpoint may be local.
        let (unnamed, _, _) = try buildState(Self.manifest(), options: TranslationOptions())
        #expect(remote(unnamed) == [])
        // An endpoint without a nodeName may be local too.
        let anonymous = Self.manifest().replacingOccurrences(of: "nodeName: b, ", with: "")
        let (partly, _, _) = try buildState(anonymous, options: Self.node)
        #expect(remote(partly) == ["10.244.3.2"])
    }

    @Test func externalLocalAppliesToExternalIPsAndNodePortsOnly() throws {
        var options = Self.node
        options.nodeName = "c"
        let (state, _, _) = try buildState(Self.manifest(etp: "Local"), options: options)
        // The only endpoint on c is not ready: it is still the local one (the core's terminating fallback
        // and readiness decide later), and no remote endpoint is used.
        #expect(servers(state, "192.0.2.20") == ["10.244.3.2"])
        #expect(servers(state, "198.51.100.7", 30080) == ["10.244.3.2"])
        #expect(state.virtualServers[tcp("198.51.100.7", 30080)]?.kind == .nodePort(.local))
        #expect(servers(state, "10.96.0.20") == ["10.244.1.2", "10.244.2.2", "10.244.3.2"])
    }

    @Test func zoneHintsForThisZoneSelectTheHintedEndpoints() throws {
        let hints = [
            ", hints: {forZones: [{name: z1}]}", ", hints: {forZones: [{name: z2}]}",
            ", hints: {forZones: [{name: z1}]}",
        ]
        let (state, _, _) = try buildState(Self.manifest(hints: hints), options: Self.node)
        #expect(servers(state, "10.96.0.20") == ["10.244.1.2", "10.244.3.2"])
        var z2 = Self.node
        z2.zone = "z2"
        let (other, _, _) = try buildState(Self.manifest(hints: hints), options: z2)
        #expect(servers(other, "10.96.0.20") == ["10.244.2.2"])
    }

    @Test func topologyFallsBackToEveryEndpointByKubeProxysRules() throws {
        // A ready endpoint without hints: hints are ignored.
        let partial = [", hints: {forZones: [{name: z1}]}", "", ""]
        let (state, _, _) = try buildState(Self.manifest(hints: partial), options: Self.node)
        #expect(servers(state, "10.96.0.20") == ["10.244.1.2", "10.244.2.2", "10.244.3.2"])
        // A not-ready endpoint without hints does not count.
        let readyHinted = [", hints: {forZones: [{name: z1}]}", ", hints: {forZones: [{name: z2}]}", ""]
        let (ready, _, _) = try buildState(Self.manifest(hints: readyHinted), options: Self.node)
        #expect(servers(ready, "10.96.0.20") == ["10.244.1.2"])
        // No endpoint hinted for this node's zone, or no zone configured: every endpoint.
        let elsewhere = [", hints: {forZones: [{name: z2}]}", ", hints: {forZones: [{name: z2}]}", ""]
        let (none, _, _) = try buildState(Self.manifest(hints: elsewhere), options: Self.node)
        #expect(servers(none, "10.96.0.20") == ["10.244.1.2", "10.244.2.2", "10.244.3.2"])
        var noZone = Self.node
        noZone.zone = ""
        let (unzoned, _, _) = try buildState(Self.manifest(hints: readyHinted), options: noZone)
        #expect(servers(unzoned, "10.96.0.20") == ["10.244.1.2", "10.244.2.2", "10.244.3.2"])
    }

    @Test func nodeHintsWinOverZoneHintsWhenEveryReadyEndpointHasOne() throws {
        let hints = [
            ", hints: {forZones: [{name: z1}], forNodes: [{name: b}]}",
            ", hints: {forZones: [{name: z1}], forNodes: [{name: a}]}", "",
        ]
        let (state, _, _) = try buildState(Self.manifest(hints: hints), options: Self.node)
        #expect(servers(state, "10.96.0.20") == ["10.244.2.2"])
        // No endpoint hinted for this node: zone hints decide.
        var d = Self.node
        d.nodeName = "d"
        let (zone, _, _) = try buildState(Self.manifest(hints: hints), options: d)
        #expect(servers(zone, "10.96.0.20") == ["10.244.1.2", "10.244.2.2"])
    }

    @Test func clusterIPServicesGetNoNodePortsAndBadPoliciesAreErrors() throws {
        let (state, _, _) = try buildState(Self.manifest(type: "ClusterIP"), options: Self.node)
        #expect(state.virtualServers[tcp("198.51.100.7", 30080)] == nil)
        let errors = buildErrors(Self.manifest(etp: "Nearby"))
        #expect(
            errors.count == 1 && errors[0].contains("externalTrafficPolicy") && errors[0].contains("Cluster or Local")
        )
        let portErrors = buildErrors(Self.manifest().replacingOccurrences(of: "nodePort: 30080", with: "nodePort: 0"))
        #expect(portErrors.count == 1 && portErrors[0].contains("nodePort"), "\(portErrors)")
    }

    @Test func decodesTheNewFields() throws {
        let set = try ManifestLoader.parse(Self.manifest(etp: "Local"), file: "test.yaml")
        let service = try #require(set.services.first)
        #expect(service.externalTrafficPolicy == .local && service.internalTrafficPolicy == .cluster)
        #expect(service.healthCheckNodePort == 30999 && service.trafficDistribution == "PreferClose")
        #expect(service.ports.first?.nodePort == 30080)
        let endpoint = try #require(set.endpointSlices.first?.endpoints.first)
        #expect(endpoint.nodeName == "a")
        let endpoints = try ManifestLoader.parse(
            """
            apiVersion: v1
            kind: Endpoints
            metadata: {name: web, namespace: shop}
            subsets: [{addresses: [{ip: 10.244.1.2, nodeName: a}], ports: [{port: 8080}]}]
            """,
            file: "test.yaml"
        )
        #expect(endpoints.endpoints.first?.subsets.first?.endpoints.first?.nodeName == "a")
    }

    @Test func healthCheckNodePortCountsReadyLocalEndpointsOfLocalLoadBalancersOnly() throws {
        let (state, _, _) = try buildState(Self.manifest(etp: "Local", type: "LoadBalancer"), options: Self.node)
        #expect(
            state.healthCheckNodePorts == [
                30999: HealthCheckNodePort(namespace: "shop", name: "web", localEndpoints: 1)
            ]
        )
        // On node c the only local endpoint is not ready: 0, so the port answers 503.
        var c = Self.node
        c.nodeName = "c"
        let (notReady, _, _) = try buildState(Self.manifest(etp: "Local", type: "LoadBalancer"), options: c)
        #expect(notReady.healthCheckNodePorts[30999]?.localEndpoints == 0)
        // Cluster policy, or not a LoadBalancer: kube-proxy serves no health check.
        #expect(
            try buildState(Self.manifest(type: "LoadBalancer"), options: Self.node).state.healthCheckNodePorts == [:]
        )
        #expect(try buildState(Self.manifest(etp: "Local"), options: Self.node).state.healthCheckNodePorts == [:])
        // Two Services on one healthCheckNodePort: an error naming both.
        let twice =
            Self.manifest(etp: "Local", type: "LoadBalancer") + "\n---\n"
            + Self.manifest(etp: "Local", type: "LoadBalancer")
            .replacingOccurrences(of: "name: web", with: "name: api")
            .replacingOccurrences(of: "10.96.0.20", with: "10.96.0.21")
            .replacingOccurrences(of: "192.0.2.20", with: "192.0.2.21")
            .replacingOccurrences(of: "nodePort: 30080", with: "nodePort: 30081")
        let errors = buildErrors(twice, options: Self.node)
        #expect(
            errors.count == 1 && errors[0].contains("port 30999 is also the healthCheckNodePort of shop/"),
            "\(errors)"
        )
    }
}
