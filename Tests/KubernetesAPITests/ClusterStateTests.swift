import IPVS
import KubernetesManifests
import KubernetesStandIn
import KubernetesWire
import NIOCore
import ServiceTables
import Testing

@testable import KubernetesAPI

@Suite struct ClusterStateTests {
    /// A rebuild of many Services builds them in parts on several threads (on a machine with one core, in
    /// one part), then settles conflicts in key order: the delta and the problems must be exactly what
    /// rebuilding the Services one at a time, in key order, gives.
    @Test func aRebuildInPartsEqualsOneServiceAtATime() throws {
        let count = ClusterState.buildsPerPart * 3
        var services: [String] = []
        var slices: [String] = []
        for index in 0..<count {
            // Every 100th Service asks for the cluster IP of the one before it: the first in key order keeps
            // the virtual server, the other is refused with a problem.
            let clusterIP = Self.address(index % 100 == 99 ? index - 1 : index, network: 96)
            services.append(StandInObjects.service("s\(index)", clusterIP: clusterIP))
            slices.append(
                StandInObjects.slice(
                    "s\(index)-1",
                    service: "s\(index)",
                    addresses: [Self.address(index, network: 1), Self.address(index + count, network: 1)],
                    notReady: index % 7 == 0 ? [Self.address(index, network: 1)] : [],
                    port: 8080
                )
            )
        }
        func listed() throws -> ClusterState {
            var state = ClusterState(options: TranslationOptions())
            _ = state.apply(.listed(try Self.page(services, resource: .services)), of: .services)
            _ = state.apply(.listed(try Self.page(slices, resource: .endpointSlices)), of: .endpointSlices)
            return state
        }

        var whole = try listed()
        let all = whole.rebuild(whole.serviceKeys)
        var single = try listed()
        var oneByOne: [VirtualServer.ID: DesiredVirtualServer?] = [:]
        for key in single.serviceKeys.sorted() {
            oneByOne.merge(single.rebuild([key])) { $1 }
        }

        #expect(all.count == count - count / 100)
        #expect(all == oneByOne)
        #expect(whole.problems == single.problems)
        #expect(whole.problems.count == count / 100)
        #expect(whole.problems[ObjectKey(namespace: "default", name: "s99")]?.contains("default/s98") == true)
        let servers = all.values.compactMap { $0?.realServers.values }
        #expect(servers.map(\.count).reduce(0, +) == 2 * servers.count)
        let notReady = servers.joined().filter { !$0.conditions.ready }.count
        #expect(notReady == (0..<count).filter { $0 % 7 == 0 && $0 % 100 != 99 }.count)
    }

    private static func address(_ index: Int, network: Int) -> String {
        "10.\(network).\(index / 250).\(index % 250 + 1)"
    }

    private static func page(_ items: [String], resource: APIResource) throws -> [ReadObject] {
        let kind = resource == .services ? "ServiceList" : "EndpointSliceList"
        let text = """
            {"kind":"\(kind)","metadata":{"resourceVersion":"1"},"items":[\(items.joined(separator: ","))]}
            """
        return try APIPayloads.page(ByteBuffer(string: text), resource: resource, claiming: nil).objects
    }
}
