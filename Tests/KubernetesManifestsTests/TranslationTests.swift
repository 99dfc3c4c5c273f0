import IPVS
import KubernetesManifests
import ServiceTables
import Testing
import YAMLSyntax

@Suite struct TranslationTests {
    @Test func namedTargetPortUDPAndSCTPAndAffinity() throws {
        let (state, _, notes) = try buildState(
            """
            apiVersion: v1
            kind: Service
            metadata: {name: dns, namespace: kube-system}
            spec:
              clusterIP: 10.96.0.10
              sessionAffinity: ClientIP
              ports:
              - {name: dns, protocol: UDP, port: 53, targetPort: dns}
              - {name: sig, protocol: SCTP, port: 3868, targetPort: sig}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: dns-1, namespace: kube-system, labels: {kubernetes.io/service-name: dns}}
            addressType: IPv4
            ports: [{name: dns, protocol: UDP, port: 5353}]
            endpoints:
            - addresses: [10.244.0.3]
              conditions: {ready: false, serving: true, terminating: true}
            """
        )
        let udp = try #require(state.virtualServers[.service(.udp, ip("10.96.0.10"), port: 53)])
        #expect(realServerList(udp) == ["10.244.0.3:5353"])
        #expect(
            udp.realServers.first?.value.conditions
                == EndpointConditions(ready: false, serving: true, terminating: true)
        )
        #expect(udp.virtualServer.flags == .persistent)
        #expect(udp.virtualServer.timeout == 10800)
        #expect(udp.virtualServer.netmask == 0xFFFF_FFFF)
        let sctp = try #require(state.virtualServers[.service(.sctp, ip("10.96.0.10"), port: 3868)])
        #expect(sctp.realServers.isEmpty)
        #expect(
            notes == [
                "kube-system/dns:sig: EndpointSlice kube-system/dns-1 has no port for targetPort \"sig\"; its endpoints are skipped"
            ]
        )
    }

    @Test func dualStackExternalIPsAndIngressWithEndpointsFallback() throws {
        let (state, allocations, _) = try buildState(
            """
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              ipFamilies: [IPv4, IPv6]
              externalIPs: [192.0.2.10]
              sessionAffinity: ClientIP
              sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
              ports: [{port: 80, targetPort: 8080}]
            status: {loadBalancer: {ingress: [{ip: "2001:db8::10"}, {hostname: lb.example}]}}
            ---
            apiVersion: v1
            kind: Endpoints
            metadata: {name: web}
            subsets:
            - addresses: [{ip: 10.244.0.5}, {ip: "fd00::5"}]
              notReadyAddresses: [{ip: 10.244.0.6}]
              ports: [{port: 8080}]
            """,
            options: TranslationOptions(serviceCIDRs: [IPNetwork("10.96.0.0/12")!, IPNetwork("fd00:96::/108")!])
        )
        let v4 = try #require(allocations.addresses["default/web/IPv4"].flatMap(IPAddress.init))
        let v6 = try #require(allocations.addresses["default/web/IPv6"].flatMap(IPAddress.init))
        #expect(IPNetwork("fd00:96::/108")!.contains(v6))
        #expect(
            Set(state.virtualServers.keys) == [
                .service(.tcp, v4, port: 80), .service(.tcp, v6, port: 80), tcp("192.0.2.10", 80),
                tcp("2001:db8::10", 80),
            ]
        )
        #expect(realServerList(state.virtualServers[tcp("192.0.2.10", 80)]) == ["10.244.0.5:8080", "10.244.0.6:8080"])
        #expect(realServerList(state.virtualServers[tcp("2001:db8::10", 80)]) == ["[fd00::5]:8080"])
        #expect(
            state.virtualServers[tcp("192.0.2.10", 80)]?.realServers[rs("10.244.0.6", 8080)]?.conditions.ready == false
        )
        #expect(state.virtualServers[.service(.tcp, v6, port: 80)]?.virtualServer.netmask == 128)
        #expect(state.virtualServers[.service(.tcp, v6, port: 80)]?.virtualServer.timeout == 60)
    }

    @Test func kindListJSONAndAnnotations() throws {
        let json = """
            {"apiVersion": "v1", "kind": "List", "items": [
              {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "api", "namespace": "prod", "annotations": {
                 "ipvsd.io/scheduler": "mh", "ipvsd.io/scheduler-flags": "mh-fallback,mh-port",
                 "ipvsd.io/weight": "5", "ipvsd.io/health-check": "http", "ipvsd.io/health-path": "/healthz",
                 "ipvsd.io/health-status": "200-204", "ipvsd.io/health-interval": "500ms",
                 "ipvsd.io/health-all-down": "remove-all"}},
               "spec": {"clusterIP": "10.96.5.5", "ports": [{"port": 443, "targetPort": 8443}]}},
              {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "api-1", "namespace": "prod", "labels": {"kubernetes.io/service-name": "api"}},
               "addressType": "IPv4", "ports": [{"port": 8443}], "endpoints": [{"addresses": ["10.1.0.1"]}]}
            ]}
            """
        let (state, _, _) = try buildState(json)
        let vs = try #require(state.virtualServers[tcp("10.96.5.5", 443)])
        #expect(vs.virtualServer.scheduler == .maglevHashing)
        #expect(vs.virtualServer.flags == [.maglevFallback, .maglevPort])
        #expect(vs.realServers[rs("10.1.0.1", 8443)]?.realServer.weight == 5)
        #expect(vs.allDownPolicy == .removeAll)
        let health = try #require(vs.healthCheck)
        #expect(health.kind == .http(HealthCheckSpec.HTTPProbe(path: "/healthz", expectedStatus: 200...204)))
        #expect(health.interval == .milliseconds(500))
    }

    @Test func allocationAvoidsStaticAddressesAndReportsAFullCIDR() throws {
        let services = (0..<3).map {
            "apiVersion: v1\nkind: Service\nmetadata: {name: s\($0)}\nspec: {ports: [{port: 80}]}"
        }
        let statics =
            "apiVersion: v1\nkind: Service\nmetadata: {name: st}\nspec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}"
        let small = TranslationOptions(serviceCIDRs: [IPNetwork("10.0.0.0/29")!])
        let (_, allocations, _) = try buildState(([statics] + services).joined(separator: "\n---\n"), options: small)
        let addresses = Set(allocations.addresses.values)
        #expect(addresses.count == 3)
        #expect(!addresses.contains("10.0.0.1") && !addresses.contains("10.0.0.0") && !addresses.contains("10.0.0.7"))
        let tiny = TranslationOptions(serviceCIDRs: [IPNetwork("10.0.0.0/30")!])
        // One usable address (10.0.0.2) is left beside the static one: s0 gets it, s1 and s2 fail.
        #expect(
            buildErrors(([statics] + services).joined(separator: "\n---\n"), options: tiny) == [
                "test.yaml:11: spec.clusterIP: cannot allocate a cluster IP: service CIDR 10.0.0.0/30 is full",
                "test.yaml:16: spec.clusterIP: cannot allocate a cluster IP: service CIDR 10.0.0.0/30 is full",
            ]
        )
    }
}
