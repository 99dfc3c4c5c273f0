import IPVS
import NIOPosix
import ServiceTables
import Testing

@testable import HealthCheck

@Suite("gRPC health probe against a local h2c server")
struct GRPCProbeTests {
    let prober = NIOProber(group: MultiThreadedEventLoopGroup.singleton)
    let statuses: [String: UInt8] = ["": 1, "orders.v1.Orders": 1, "billing.Billing": 2]

    @Test(arguments: ["127.0.0.1", "::1"])
    func servingServerIsHealthy(host: String) async throws {
        let server = try await GRPCTestServer.start(host: host, .health(statuses))
        let result = await prober.probe(target(.grpc(service: ""), host, server.port))
        try await server.close()
        #expect(result.reason == "ok")
        #expect(result.success)
        let headers = try #require(server.log.headers.withLock { $0 })
        #expect(headers.first(name: ":method") == "POST")
        #expect(headers.first(name: ":scheme") == "http")
        #expect(headers.first(name: ":path") == "/grpc.health.v1.Health/Check")
        let authority = host.contains(":") ? "[\(host)]:\(server.port)" : "\(host):\(server.port)"
        #expect(headers.first(name: ":authority") == authority)
        #expect(headers.first(name: "content-type") == "application/grpc")
        #expect(headers.first(name: "te") == "trailers")
        #expect(headers.first(name: "grpc-timeout") == "2000m")
        #expect(server.log.service.withLock { $0 } == "")
    }

    @Test func namedServingServiceIsHealthy() async throws {
        let server = try await GRPCTestServer.start(.health(statuses))
        let result = await prober.probe(target(.grpc(service: "orders.v1.Orders"), "127.0.0.1", server.port))
        try await server.close()
        #expect(result.reason == "ok")
        #expect(server.log.service.withLock { $0 } == "orders.v1.Orders")
    }

    @Test func notServingFails() async throws {
        let server = try await GRPCTestServer.start(.health(statuses))
        let result = await prober.probe(target(.grpc(service: "billing.Billing"), "127.0.0.1", server.port))
        try await server.close()
        #expect(!result.success)
        #expect(result.reason == "not serving")
    }

    @Test func unknownServiceFails() async throws {
        let server = try await GRPCTestServer.start(.health(statuses))
        let result = await prober.probe(target(.grpc(service: "nope.Missing"), "127.0.0.1", server.port))
        try await server.close()
        #expect(!result.success)
        #expect(result.reason == "unknown service")
        #expect(server.log.service.withLock { $0 } == "nope.Missing")
    }

    @Test func otherGRPCStatusIsNamed() async throws {
        let server = try await GRPCTestServer.start(.grpcStatus(12))
        let result = await prober.probe(target(.grpc(service: ""), "127.0.0.1", server.port))
        try await server.close()
        #expect(!result.success)
        #expect(result.reason == "grpc-status 12")
    }

    @Test func httpStatusOtherThan200Fails() async throws {
        let server = try await GRPCTestServer.start(.httpStatus(503))
        let result = await prober.probe(target(.grpc(service: ""), "127.0.0.1", server.port))
        try await server.close()
        #expect(!result.success)
        #expect(result.reason == "status 503")
    }

    @Test func silentServerTimesOut() async throws {
        let server = try await GRPCTestServer.start(.silent)
        let result = await prober.probe(
            target(.grpc(service: ""), "127.0.0.1", server.port, timeout: .milliseconds(300))
        )
        try await server.close()
        #expect(!result.success)
        #expect(result.reason == "timeout")
        // The request did arrive: the timeout is the server's silence, not a failed send.
        #expect(server.log.service.withLock { $0 } == "")
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func closedPortIsRefused(host: String) async throws {
        let closed = try ClosedPort(host: host)
        let result = await prober.probe(target(.grpc(service: ""), host, closed.port))
        #expect(!result.success)
        #expect(result.reason == "connection refused")
    }

    @Test func http1ServerFails() async throws {
        let server = try await TestServer.http()
        let result = await prober.probe(target(.grpc(service: ""), "127.0.0.1", server.port))
        try await server.close()
        #expect(!result.success)
        #expect(result.reason.hasPrefix("invalid HTTP/2 response"))
    }

    @Test func targetDescription() {
        let id = RealServer.ID(address: IPAddress("10.0.0.1")!, port: 50051)
        #expect(
            HealthTarget(realServer: id, spec: HealthCheckSpec(kind: .grpc(service: ""))).description
                == "grpc 10.0.0.1:50051"
        )
        #expect(
            HealthTarget(realServer: id, spec: HealthCheckSpec(kind: .grpc(service: "a.B"))).description
                == "grpc 10.0.0.1:50051 a.B"
        )
    }
}
