import IPVS
import KubernetesManifests
import ServiceTables
import Testing

@Suite("gRPC health-check annotations")
struct GRPCAnnotationTests {
    /// A Service at 10.96.7.7:50051 with one endpoint; `annotations` start on line 6.
    func manifest(_ annotations: [String]) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: orders
          annotations:
        \(annotations.map { "    ipvsd.io/\($0)" }.joined(separator: "\n"))
        spec:
          clusterIP: 10.96.7.7
          ports: [{name: grpc, port: 50051}]
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: orders}
        subsets: [{addresses: [{ip: 10.1.0.9}], ports: [{name: grpc, port: 50051}]}]
        """
    }

    func healthKind(
        _ annotations: [String],
        defaults: HealthCheckSpec? = nil
    ) throws -> HealthCheckSpec.Kind? {
        let options = TranslationOptions(defaultHealthCheck: defaults)
        let (state, _, _) = try buildState(manifest(annotations), options: options)
        let service = try #require(state.virtualServers[tcp("10.96.7.7", 50051)])
        return service.healthCheck?.kind
    }

    @Test func grpcCheckWithService() throws {
        let kind = try healthKind(["health-check: grpc", "health-grpc-service: orders.v1.Orders"])
        #expect(kind == .grpc(service: "orders.v1.Orders"))
    }

    @Test func grpcCheckWithoutServiceAsksForOverallHealth() throws {
        #expect(try healthKind(["health-check: grpc"]) == .grpc(service: ""))
    }

    @Test func emptyServiceNameIsOverallHealth() throws {
        #expect(try healthKind(["health-check: grpc", "health-grpc-service: \"\""]) == .grpc(service: ""))
    }

    @Test func serviceAnnotationOverridesTheDefaultGRPCCheck() throws {
        let defaults = HealthCheckSpec(kind: .grpc(service: "cluster.Default"))
        #expect(try healthKind([], defaults: defaults) == .grpc(service: "cluster.Default"))
        #expect(try healthKind(["health-check: grpc"], defaults: defaults) == .grpc(service: "cluster.Default"))
        #expect(
            try healthKind(["health-grpc-service: orders.v1.Orders"], defaults: defaults)
                == .grpc(service: "orders.v1.Orders")
        )
    }

    @Test func grpcReplacesAnHTTPDefault() throws {
        let defaults = HealthCheckSpec(kind: .http(HealthCheckSpec.HTTPProbe(path: "/healthz")))
        #expect(try healthKind(["health-check: grpc"], defaults: defaults) == .grpc(service: ""))
    }

    @Test func serviceNameOnAnotherKindIsAnError() {
        let errors = buildErrors(manifest(["health-check: http", "health-grpc-service: orders.v1.Orders"]))
        #expect(
            errors == ["test.yaml:7: metadata.annotations[ipvsd.io/health-grpc-service]: applies only to grpc checks"]
        )
    }

    @Test func serviceNameOnATCPDefaultIsAnError() {
        let errors = buildErrors(
            manifest(["health-grpc-service: orders.v1.Orders"]),
            options: TranslationOptions(defaultHealthCheck: HealthCheckSpec())
        )
        #expect(
            errors == ["test.yaml:6: metadata.annotations[ipvsd.io/health-grpc-service]: applies only to grpc checks"]
        )
    }

    @Test func serviceNameWithoutAnyCheckSaysChecksAreOff() {
        let errors = buildErrors(manifest(["health-grpc-service: orders.v1.Orders"]))
        #expect(
            errors == [
                "test.yaml:6: metadata.annotations[ipvsd.io/health-grpc-service]: health checks are off by default: "
                    + "set ipvsd.io/health-check too"
            ]
        )
    }

    @Test func httpKeysOnAGRPCCheckAreAnError() {
        let errors = buildErrors(manifest(["health-check: grpc", "health-path: /healthz"]))
        #expect(
            errors == ["test.yaml:7: metadata.annotations[ipvsd.io/health-path]: applies only to http and https checks"]
        )
    }

    @Test func serviceNameWithSpacesIsRejected() {
        let errors = parseErrors(manifest(["health-check: grpc", "health-grpc-service: orders service"]))
        #expect(
            errors == [
                "test.yaml:7: metadata.annotations[ipvsd.io/health-grpc-service]: must be a gRPC service name without "
                    + "spaces such as my.pkg.Orders, got \"orders service\""
            ]
        )
    }

    @Test func unknownKindListsGRPC() {
        let errors = parseErrors(manifest(["health-check: grpcs"]))
        #expect(
            errors == [
                "test.yaml:6: metadata.annotations[ipvsd.io/health-check]: must be one of none, tcp, http, https, udp, "
                    + "command, grpc, got \"grpcs\""
            ]
        )
    }
}
