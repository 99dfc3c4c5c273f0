import IPVS
import Testing

@testable import KubernetesManifests

/// Held slices share one copy of each node name and hint set, and interning never changes a value.
@Suite struct EndpointInterningTests {
    /// A node name built at run time, so each call has storage of its own.
    private func nodeName(_ index: Int) -> String { "ip-10-0-\(index)-17.eu-west-1.compute.internal" }

    private func slice(_ name: String, node: Int, zone: String) -> EndpointSlice {
        EndpointSlice(
            namespace: "shop",
            name: name,
            location: SourceLocation(file: "api", line: 0),
            serviceName: "web",
            addressType: .inet,
            ports: [EndpointPort(port: 8080)],
            endpoints: (1...3).map { host in
                Endpoint(
                    address: IPAddress(ipv4: 0x0AF4_0000 + UInt32(node) << 8 + UInt32(host)),
                    nodeName: nodeName(node),
                    zoneHints: ["\(zone)"],
                    nodeHints: [nodeName(node)]
                )
            }
        )
    }

    private func storage(_ text: String) -> UnsafeRawPointer? {
        var text = text
        return text.withUTF8 { UnsafeRawPointer($0.baseAddress) }
    }

    @Test func equalNamesShareOneCopyAndValuesStayEqual() {
        var interning = EndpointInterning()
        let first = slice("web-a", node: 1, zone: "eu-west-1a")
        let second = slice("web-b", node: 1, zone: "eu-west-1a")
        // Built separately: before interning the two slices' names are distinct heap blocks.
        #expect(storage(first.endpoints[0].nodeName) != storage(second.endpoints[0].nodeName))
        let a = interning.intern(first)
        let b = interning.intern(second)
        #expect(a == first)
        #expect(b == second)
        let names = (a.endpoints + b.endpoints).map { storage($0.nodeName) }
        #expect(Set(names).count == 1)
        let other = interning.intern(slice("web-c", node: 2, zone: "eu-west-1b"))
        #expect(other.endpoints[0].nodeName == nodeName(2))
        #expect(storage(other.endpoints[0].nodeName) != names[0])
    }

    @Test func aSliceWithNothingToShareIsNotCopied() {
        var interning = EndpointInterning()
        var plain = slice("web-a", node: 1, zone: "unused")
        for index in plain.endpoints.indices {
            plain.endpoints[index].nodeName = "node-1"  // short: stored inline, nothing to share
            plain.endpoints[index].zoneHints = []
            plain.endpoints[index].nodeHints = []
        }
        let held = interning.intern(plain)
        #expect(held == plain)
        // The same array storage: the caller's copy and the held one are one array, not two.
        #expect(
            held.endpoints.withUnsafeBufferPointer { $0.baseAddress }
                == plain.endpoints.withUnsafeBufferPointer { $0.baseAddress }
        )
    }

    @Test func aFullTableStartsAgainWithoutChangingValues() {
        var interning = EndpointInterning()
        for node in 0..<(EndpointInterning.limit + 10) {
            let held = interning.intern(slice("web-\(node)", node: node, zone: "zone-\(node)"))
            if node % 9_973 == 0 || node >= EndpointInterning.limit {
                #expect(held == slice("web-\(node)", node: node, zone: "zone-\(node)"))
            }
        }
        let again = interning.intern(slice("web-x", node: 3, zone: "zone-3"))
        #expect(again.endpoints.allSatisfy { $0.nodeName == nodeName(3) && $0.zoneHints == ["zone-3"] })
    }
}
