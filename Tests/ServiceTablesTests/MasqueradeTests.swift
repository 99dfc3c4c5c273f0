import IPVS
import ServiceTables
import Testing

/// Which traffic each `masquerade` mode masquerades, computed from the desired state.
@Suite struct MasqueradeTests {
    static func state() -> DesiredState {
        var clusterIP = service(
            serviceID(1),
            [endpoint(1), endpoint(2, conditions: .init(ready: false, serving: false, terminating: false))]
        )
        clusterIP.kind = .clusterIP
        var externalCluster = service(serviceID(2, proto: .udp), [endpoint(3)])
        externalCluster.kind = .external(.cluster)
        var externalLocal = service(serviceID(3), [endpoint(4)])
        externalLocal.kind = .external(.local)
        var nodePort = service(.service(.tcp, IPAddress("2001:db8::7")!, port: 30080), [])
        nodePort.kind = .nodePort(.cluster)
        var mark = service(.firewallMark(5, .inet), [endpoint(5)])
        mark.kind = .clusterIP
        return DesiredState(
            virtualServers: Dictionary(
                uniqueKeysWithValues: [clusterIP, externalCluster, externalLocal, nodePort, mark].map { ($0.id, $0) }
            )
        )
    }

    static func destination(_ address: String, _ proto: IPProtocol, _ port: UInt16) -> MasqueradeRules.Destination {
        .init(address: IPAddress(address)!, proto: proto, port: port)
    }

    @Test func hairpinCoversEveryEndpointAndExternalClusterPolicyClients() throws {
        let rules = try #require(MasqueradeMode.hairpin.rules(for: Self.state()))
        // Every endpoint of a port-based virtual server, ready or not, with the virtual server's protocol;
        // firewall-mark services have no protocol to match and are left out.
        #expect(
            rules.hairpin == [
                Self.destination("10.1.0.1", .tcp, 8080), Self.destination("10.1.0.2", .tcp, 8080),
                Self.destination("10.1.0.3", .udp, 8080), Self.destination("10.1.0.4", .tcp, 8080),
            ]
        )
        #expect(
            rules.masqueraded == [
                Self.destination("10.0.0.2", .udp, 80), Self.destination("2001:db8::7", .tcp, 30080),
            ]
        )
    }

    @Test func allAddsClusterIPClientsButNeverLocalPolicyClients() throws {
        let rules = try #require(MasqueradeMode.all.rules(for: Self.state()))
        #expect(
            rules.masqueraded == [
                Self.destination("10.0.0.1", .tcp, 80), Self.destination("10.0.0.2", .udp, 80),
                Self.destination("2001:db8::7", .tcp, 30080),
            ]
        )
        #expect(rules.hairpin.count == 4)
    }

    /// kube-proxy's KUBE-LOOP-BACK holds local endpoints only: an endpoint known to run on another node can
    /// never be the client of its own Service through this node, so it gets no hairpin element. One whose
    /// node is unknown keeps it.
    @Test func hairpinLeavesOutEndpointsKnownToRunOnOtherNodes() throws {
        var state = Self.state()
        var clusterIP = service(serviceID(1), [endpoint(1), endpoint(2, onOtherNode: true)])
        clusterIP.kind = .clusterIP
        state.virtualServers[serviceID(1)] = clusterIP
        let rules = try #require(MasqueradeMode.hairpin.rules(for: state))
        #expect(!rules.hairpin.contains(Self.destination("10.1.0.2", .tcp, 8080)))
        #expect(rules.hairpin.contains(Self.destination("10.1.0.1", .tcp, 8080)))
        #expect(rules.hairpin.count == 3)
        // The virtual server's own masquerade does not depend on where its endpoints run.
        let all = try #require(MasqueradeMode.all.rules(for: state))
        #expect(all.masqueraded.contains(Self.destination("10.0.0.1", .tcp, 80)))
        #expect(!all.hairpin.contains(Self.destination("10.1.0.2", .tcp, 8080)))
    }

    @Test func noneMeansNoTable() {
        #expect(MasqueradeMode.none.rules(for: Self.state()) == nil)
    }

    @Test func nodePortAddressesAreNeverBound() {
        #expect(Self.state().addresses == [IPAddress("10.0.0.1")!, IPAddress("10.0.0.2")!, IPAddress("10.0.0.3")!])
    }

    /// The index the agent keeps as Services change counts each element's users, IPv4 and IPv6 alike: an
    /// endpoint shared by two virtual servers stays until the last one goes, and each change reports only
    /// the elements that appeared or disappeared.
    @Test func sharedElementsStayUntilTheirLastUserGoes() {
        var state = LoadBalancerState(settings: LoadBalancerSettings(masquerade: .hairpin))
        let v6Server = DesiredRealServer(
            realServer: RealServer(address: IPAddress("fd00::15")!, port: 8443, forwarding: .masquerade)
        )
        let v6 = service(.service(.tcp, IPAddress("fd00:96::1")!, port: 443), [v6Server])
        let v6NodePort = service(.service(.tcp, IPAddress("fd00::1")!, port: 30443), [v6Server])
        let clusterIP = service(serviceID(1), [endpoint(1), endpoint(2)])
        let nodePort = service(serviceID(9, port: 30080), [endpoint(1)])
        let services = [v6, v6NodePort, clusterIP, nodePort]
        _ = state.updateDesired(Dictionary(uniqueKeysWithValues: services.map { ($0.id, $0) }))
        let v6Element = Self.destination("fd00::15", .tcp, 8443)
        let shared = Self.destination("10.1.0.1", .tcp, 8080)
        let added = state.takeMasqueradeChanges().added.hairpin
        #expect(added == [v6Element, shared, Self.destination("10.1.0.2", .tcp, 8080)])
        #expect(state.masqueradeRules == MasqueradeMode.hairpin.rules(for: state.desired))

        // One user of each shared element goes: nothing changes.
        _ = state.updateDesired([v6NodePort.id: nil, nodePort.id: nil])
        var changes = state.takeMasqueradeChanges()
        #expect(changes.added.hairpin.isEmpty && changes.removed.hairpin.isEmpty)
        #expect(state.masqueradeRules?.hairpin.contains(v6Element) == true)
        #expect(state.masqueradeRules?.hairpin.contains(shared) == true)

        // The last users go: both elements do.
        _ = state.updateDesired([v6.id: nil, clusterIP.id: service(serviceID(1), [endpoint(2)])])
        changes = state.takeMasqueradeChanges()
        #expect(changes.removed.hairpin == [v6Element, shared])
        #expect(changes.added.hairpin.isEmpty)
        #expect(state.masqueradeRules?.hairpin == [Self.destination("10.1.0.2", .tcp, 8080)])
        #expect(state.masqueradeIndexMatchesDesired())
    }
}
