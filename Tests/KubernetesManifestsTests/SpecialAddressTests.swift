import IPVS
import ServiceTables
import Testing
import YAMLSyntax

@testable import KubernetesManifests

/// Each special address with the rule its error names.
private let specialAddresses: [(address: String, rule: String)] = [
    ("0.0.0.0", "unspecified (0.0.0.0, ::)"),
    ("::", "unspecified (0.0.0.0, ::)"),
    ("127.0.0.1", "in the loopback range (127.0.0.0/8, ::1/128)"),
    ("127.255.0.9", "in the loopback range (127.0.0.0/8, ::1/128)"),
    ("::1", "in the loopback range (127.0.0.0/8, ::1/128)"),
    ("::ffff:127.0.0.1", "in the loopback range (127.0.0.0/8, ::1/128)"),
    ("169.254.169.254", "in the link-local range (169.254.0.0/16, fe80::/10)"),
    ("fe80::1", "in the link-local range (169.254.0.0/16, fe80::/10)"),
    ("224.0.0.1", "in the multicast range (224.0.0.0/4, ff00::/8)"),
    ("239.1.2.3", "in the multicast range (224.0.0.0/4, ff00::/8)"),
    ("ff02::1", "in the multicast range (224.0.0.0/4, ff00::/8)"),
    ("255.255.255.255", "the broadcast address 255.255.255.255"),
]

private func service(_ spec: String, status: String = "") -> String {
    "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {\(spec), ports: [{port: 80}]}\n\(status)"
}

@Suite struct SpecialAddressTests {
    @Test(arguments: specialAddresses)
    func clusterIPMayNotBeSpecial(address: String, rule: String) {
        #expect(
            parseErrors(service("clusterIP: \"\(address)\""))
                == ["test.yaml:4: spec.clusterIP: \(address) may not be \(rule)"]
        )
    }

    @Test(arguments: specialAddresses)
    func externalIPMayNotBeSpecial(address: String, rule: String) {
        #expect(
            parseErrors(service("externalIPs: [\"\(address)\"]"))
                == ["test.yaml:4: spec.externalIPs[0]: \(address) may not be \(rule)"]
        )
    }

    @Test(arguments: specialAddresses)
    func loadBalancerIngressMayNotBeSpecial(address: String, rule: String) {
        let text = service("type: LoadBalancer", status: "status: {loadBalancer: {ingress: [{ip: \"\(address)\"}]}}\n")
        #expect(parseErrors(text) == ["test.yaml:5: status.loadBalancer.ingress[0].ip: \(address) may not be \(rule)"])
    }

    @Test(arguments: specialAddresses)
    func endpointAddressesMayNotBeSpecial(address: String, rule: String) {
        let family = address.contains(":") ? "IPv6" : "IPv4"
        let slice = """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
            addressType: \(family)
            endpoints:
            - addresses: ["\(address)"]

            """
        #expect(parseErrors(slice) == ["test.yaml:6: endpoints[0].addresses[0]: \(address) may not be \(rule)"])
        let endpoints = """
            apiVersion: v1
            kind: Endpoints
            metadata: {name: web}
            subsets:
            - addresses: [{ip: "\(address)"}]

            """
        #expect(parseErrors(endpoints) == ["test.yaml:5: subsets[0].addresses[0].ip: \(address) may not be \(rule)"])
    }

    @Test func bitTestsAgreeWithTheNetworkTable() {
        let ordinary = [
            "10.0.0.1", "126.255.255.255", "128.0.0.0", "169.253.255.255", "223.255.255.255",
            "240.0.0.1", "255.255.255.254", "::2", "fe7f::1", "fec0::1", "fe00::1", "2001:db8::1", "::ffff:10.0.0.1",
        ]
        for text in specialAddresses.map(\.address) + ordinary {
            let address = IPAddress(text)!
            #expect(
                SpecialAddresses.rule(for: address)?.description
                    == SpecialAddresses.network(containing: address)?.rule.description,
                "\(text)"
            )
            #expect((SpecialAddresses.rule(for: address) == nil) == ordinary.contains(text), "\(text)")
        }
    }

    @Test func ordinaryAddressesAreAccepted() throws {
        let text = service(
            "clusterIP: 10.96.0.10, externalIPs: [192.0.2.10, \"2001:db8::10\", 223.255.255.254, 169.253.0.1]"
        )
        #expect(parseErrors(text) == [])
    }

    @Test func allocatorNeverHandsOutNetworkBroadcastOrSpecialAddresses() {
        let keys = (0..<4).map { (key: "ns/svc-\($0)/IPv4", family: AddressFamily.inet) }
        // A /29 has six usable addresses: .1 to .6, never .0 (network) nor .7 (broadcast).
        var small = ClusterIPAllocator(networks: [IPNetwork("10.96.0.0/29")!], taken: [])
        let chosen = small.allocate(keys: keys, previous: ClusterIPAllocations()).values.compactMap { $0 }
        #expect(chosen.count == 4)
        #expect(chosen.allSatisfy { (1...6).contains(($0.ipv4Value ?? 0) & 7) })

        // Networks wholly special give nothing, at once; networks holding special ranges give ordinary ones.
        for text in ["127.0.0.0/8", "127.0.0.0/16", "224.0.0.0/4", "169.254.0.0/16"] {
            var allocator = ClusterIPAllocator(networks: [IPNetwork(text)!], taken: [])
            #expect(allocator.allocate(keys: keys, previous: ClusterIPAllocations()).values.allSatisfy { $0 == nil })
        }
        var everything = ClusterIPAllocator(networks: [IPNetwork("0.0.0.0/0")!], taken: [])
        let many = (0..<500).map { (key: "ns/svc-\($0)/IPv4", family: AddressFamily.inet) }
        let addresses = everything.allocate(keys: many, previous: ClusterIPAllocations()).values.compactMap { $0 }
        #expect(addresses.count == 500)
        #expect(addresses.allSatisfy { SpecialAddresses.rule(for: $0) == nil })
    }

    @Test func allocatorDropsASpecialPreviousChoiceAndSurvivesTinyNetworks() {
        var allocator = ClusterIPAllocator(networks: [IPNetwork("0.0.0.0/0")!], taken: [])
        let previous = ClusterIPAllocations(addresses: ["ns/web/IPv4": "127.0.0.1"])
        let result = allocator.allocate(keys: [("ns/web/IPv4", .inet)], previous: previous)
        let address = result["ns/web/IPv4"].flatMap { $0 }
        #expect(address != nil && address != IPAddress("127.0.0.1"))
        // A /31 or /32 has no usable address; the allocator must say so, not divide by zero.
        for text in ["10.0.0.0/31", "10.0.0.1/32"] {
            var tiny = ClusterIPAllocator(networks: [IPNetwork(text)!], taken: [])
            #expect(
                tiny.allocate(keys: [("ns/web/IPv4", .inet)], previous: ClusterIPAllocations()).values.first! == nil
            )
        }
    }

    @Test func shippedExamplesStillLoad() throws {
        #expect(try !buildExampleState().state.virtualServers.isEmpty)
    }
}
