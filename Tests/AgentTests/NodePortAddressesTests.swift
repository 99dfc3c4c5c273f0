import IPVS
import Testing
import YAMLSyntax

@testable import Agent

@Suite struct NodePortAddressesTests {
    let host: Set<IPAddress> = [IPAddress("192.168.1.5")!, IPAddress("10.0.0.7")!, IPAddress("fd00::5")!]

    @Test func cidrsPickHostAddressesInsideThem() {
        let cidrs = [IPNetwork("10.0.0.0/8")!, IPNetwork("fd00::/8")!]
        #expect(
            NodePortAddresses.select(cidrs: cidrs, host: host, primary: [])
                == [IPAddress("10.0.0.7")!, IPAddress("fd00::5")!]
        )
        #expect(NodePortAddresses.select(cidrs: [IPNetwork("172.16.0.0/12")!], host: host, primary: []) == [])
    }

    @Test func withoutCIDRsThePrimaryAddressesThatAreTheHostsOwn() {
        let primary = [IPAddress("192.168.1.5")!, IPAddress("2001:db8::9")!]
        #expect(NodePortAddresses.select(cidrs: [], host: host, primary: primary) == [IPAddress("192.168.1.5")!])
    }
}
