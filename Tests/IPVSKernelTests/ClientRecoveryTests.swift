import Testing

@testable import IPVS

/// A reply that never comes fails after the timeout, and a failed socket is replaced on the next request.
@Suite(.enabled(if: KernelTests.enabled))
struct ClientRecoveryTests {
    static let id = VirtualServer.ID.service(.tcp, IPAddress("10.1.0.1")!, port: 80)

    @Test func brokenSocketIsReportedThenReopened() throws {
        let sandbox = try KernelSandbox()
        try sandbox.client.perform(.addService(VirtualServer(id: Self.id)))
        sandbox.client.breakSocketForTesting()

        let error = #expect(throws: IPVSError.self) { try sandbox.client.services() }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.hasPrefix("cannot send to the kernel: ") == true)

        // The next request opens a new socket in the same namespace and sees the same table.
        #expect(try sandbox.client.services().map(\.virtualServer.id) == [Self.id])
        let result = sandbox.client.apply([.deleteService(Self.id)])
        #expect(result.succeeded)
        #expect(try sandbox.ipvsadm("-Sn") == "")
    }

    @Test func missingReplyTimesOutAndTheClientRecovers() throws {
        let namespace = try NetworkNamespaceHandle.createFresh()
        let client = try IPVSClient(
            configuration: .init(namespace: namespace.namespace, replyTimeout: .milliseconds(200))
        )
        let error = #expect(throws: IPVSError.self) { try client.receiveUnsolicitedForTesting() }
        #expect(error?.code == .timedOut)
        #expect(error?.message == "no reply from the kernel within 200 ms")
        #expect(try client.services().isEmpty)
    }

    @Test func failedBatchReportsEveryUnansweredOperation() throws {
        let sandbox = try KernelSandbox()
        sandbox.client.breakSocketForTesting()
        let operations: [IPVSOperation] = [.addService(VirtualServer(id: Self.id)), .flush]
        let result = sandbox.client.apply(operations)
        #expect(result.failures.map(\.index) == [0, 1])
        #expect(result.failures.allSatisfy { $0.error.code == .connectionFailed })
        #expect(result.failures.map(\.operation) == operations)
        // Nothing reached the kernel, and the client works again.
        #expect(try sandbox.ipvsadm("-Sn") == "")
        #expect(sandbox.client.apply(operations).succeeded)
    }
}
