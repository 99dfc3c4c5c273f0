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

    /// A first list's pages are held and built as they come (`prebuild`); the build at the list's end takes
    /// those builds. Whatever a later page or the complete list changes for a Service built earlier (a second
    /// slice, a slice that moves to another Service, a changed Service, a slice a failed attempt's page held
    /// that the complete list no longer has) must be rebuilt: the delta is exactly that of the same lists
    /// given whole.
    @Test func buildsAheadOfTheListsEndEqualTheWholeListsBuild() throws {
        let services = (0..<6).map { StandInObjects.service("s\($0)", clusterIP: Self.address($0, network: 96)) }
        func slice(_ name: String, of service: Int, _ addresses: [Int]) -> String {
            StandInObjects.slice(
                name,
                service: "s\(service)",
                addresses: addresses.map { Self.address($0, network: 1) },
                port: 8080
            )
        }
        // Page by page, as the two lists' pages interleave: Services 0-2, slices, the other Services, the
        // remaining slices: s1's second slice, the slice "moving" (first s2's, then s3's), s4's only slice.
        let early: [(APIResource, [String])] = [
            (.services, Array(services[0..<3])),
            (.endpointSlices, [slice("s0-1", of: 0, [1, 2]), slice("s1-1", of: 1, [3]), slice("moving", of: 2, [5])]),
            (.services, Array(services[3...])),
            (.endpointSlices, [slice("s1-2", of: 1, [4]), slice("moving", of: 3, [6]), slice("s4-1", of: 4, [7])]),
            // From a first attempt that failed after this page; the slice is gone by the list that completes.
            (.endpointSlices, [slice("s4-gone", of: 4, [8])]),
        ]
        var paged = ClusterState(options: TranslationOptions())
        var pagedAffected = Set<ObjectKey>()
        for (resource, items) in early {
            let affected = paged.apply(.page(try Self.page(items, resource: resource)), of: resource)
            pagedAffected.formUnion(affected)
            paged.prebuild(affected)
        }
        // The lists end: each holds its final objects (s5's Service changes after its page: a new port).
        let finalServices =
            Array(services[0..<5]) + [
                StandInObjects.service("s5", clusterIP: Self.address(5, network: 96), ports: [80, 81])
            ]
        let finalSlices = [
            slice("s0-1", of: 0, [1, 2]), slice("s1-1", of: 1, [3]), slice("s1-2", of: 1, [4]),
            slice("moving", of: 3, [6]), slice("s4-1", of: 4, [7]),
        ]
        pagedAffected.formUnion(paged.apply(.listed(try Self.page(finalServices, resource: .services)), of: .services))
        pagedAffected.formUnion(
            paged.apply(.listed(try Self.page(finalSlices, resource: .endpointSlices)), of: .endpointSlices)
        )
        #expect(pagedAffected == paged.serviceKeys)
        let pipelined = paged.rebuild(paged.serviceKeys)

        var whole = ClusterState(options: TranslationOptions())
        _ = whole.apply(.listed(try Self.page(finalServices, resource: .services)), of: .services)
        _ = whole.apply(.listed(try Self.page(finalSlices, resource: .endpointSlices)), of: .endpointSlices)
        let reference = whole.rebuild(whole.serviceKeys)

        #expect(pipelined == reference)
        #expect(pipelined.count == 7)
        func servers(_ service: Int, port: UInt16 = 80) -> Int? {
            pipelined[.service(.tcp, IPAddress(Self.address(service, network: 96))!, port: port)]??.realServers.count
        }
        #expect(servers(1) == 2)
        #expect(servers(2) == 0)
        #expect(servers(3) == 1)
        #expect(servers(4) == 1)
        #expect(servers(5, port: 81) == 0)
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
