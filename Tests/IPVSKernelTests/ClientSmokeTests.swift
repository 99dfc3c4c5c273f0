import IPVS
import Testing

/// The shortest proof that the client talks to the kernel: write, read back, compare with ipvsadm.
@Suite(.enabled(if: KernelTests.enabled))
struct ClientSmokeTests {
    @Test func addListAndCompareWithIPVSAdm() throws {
        let sandbox = try KernelSandbox()
        let id = VirtualServer.ID.service(.tcp, IPAddress("10.0.0.1")!, port: 80)
        let vs = VirtualServer(id: id, scheduler: .roundRobin)
        let rs = RealServer(address: IPAddress("10.0.0.2")!, port: 8080, forwarding: .masquerade, weight: 3)
        let result = sandbox.client.apply([.addService(vs), .addServer(rs, to: id)])
        #expect(result.failures.map(\.error.message) == [])
        #expect(result.sendCalls == 1)
        #expect(try sandbox.client.services().map(\.virtualServer) == [vs])
        #expect(try sandbox.client.servers(of: id).map(\.realServer) == [rs])
        #expect(
            try sandbox.ipvsadm("-Sn")
                == "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 3\n"
        )
        #expect(try sandbox.client.info().version == "1.2.1")
    }
}
