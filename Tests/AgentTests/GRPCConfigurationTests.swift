import Agent
import KubernetesManifests
import ServiceTables
import Testing

@Suite("health.kind grpc in the agent's configuration")
struct GRPCConfigurationTests {
    func messages(_ text: String) -> [String] {
        do throws(ConfigurationErrors) {
            _ = try AgentConfiguration.parse(text, file: "ipvsd.yaml")
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test func grpcKindWithAndWithoutService() throws {
        let overall = try AgentConfiguration.parse("health:\n  kind: grpc\n", file: "ipvsd.yaml")
        #expect(overall.health.spec.kind == .grpc(service: ""))
        let named = try AgentConfiguration.parse(
            "health:\n  kind: grpc\n  grpcService: orders.v1.Orders\n",
            file: "ipvsd.yaml"
        )
        #expect(named.health.spec.kind == .grpc(service: "orders.v1.Orders"))
    }

    @Test func grpcServiceOnAnotherKindIsNamed() {
        #expect(
            messages("health:\n  kind: http\n  grpcService: orders.v1.Orders\n") == [
                "ipvsd.yaml:3: health.grpcService: applies only to kind grpc"
            ]
        )
    }

    @Test func unknownKindListsGRPC() {
        #expect(
            messages("health:\n  kind: udp\n") == [
                "ipvsd.yaml:2: health.kind: must be tcp, http, https or grpc (udp and command checks are set per "
                    + "Service), got \"udp\""
            ]
        )
    }
}
