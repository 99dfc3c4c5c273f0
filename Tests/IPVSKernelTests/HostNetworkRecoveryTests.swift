import Testing

@testable import IPVS

/// A route socket that failed is replaced on the next request, as the IPVS client's is.
@Suite(.enabled(if: KernelTests.enabled))
struct HostNetworkRecoveryTests {
    @Test func brokenRouteSocketIsReportedThenReopened() throws {
        let sandbox = try KernelSandbox()
        let host = try HostNetwork(namespace: sandbox.namespace.namespace)
        _ = try host.ensureDummyInterface(named: "ipvs0")
        host.breakSocketForTesting()

        #expect(throws: IPVSError.self) { try host.interfaceExists("ipvs0") }
        // The next request opens a new socket in the same namespace and sees the same interface.
        #expect(try host.interfaceExists("ipvs0"))
        let address = IPAddress("10.96.0.10")!
        try host.add(address, to: "ipvs0")
        #expect(try host.addresses(on: "ipvs0") == [address])
        #expect(try sandbox.run("ip", "-o", "addr", "show", "dev", "ipvs0").contains("10.96.0.10/32"))
    }
}
