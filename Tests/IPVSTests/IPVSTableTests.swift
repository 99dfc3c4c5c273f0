import IPVS
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The library's one copy of the kernel's table rules (ipvsctl's restore planning and the tests' fake kernels).
@Suite struct IPVSTableTests {
    static func service(_ index: Int) -> VirtualServer {
        VirtualServer(
            id: .service(.tcp, IPAddress("10.96.\(index / 250).\(index % 250 + 1)")!, port: 80),
            scheduler: "rr"
        )
    }

    @Test func errnosAreTheKernelsWithTheClientsWording() throws {
        var table = IPVSTable()
        let vs = Self.service(0)
        try table.apply(.addService(vs))
        let again = #expect(throws: IPVSError.self) { try table.apply(.addService(vs)) }
        #expect(again?.errno == EEXIST && again?.code == .alreadyExists)
        let missing = #expect(throws: IPVSError.self) { try table.apply(.deleteService(Self.service(1).id)) }
        #expect(missing?.errno == ESRCH && missing?.code == .notFound)
        let rs = RealServer(address: IPAddress("10.244.0.1")!, port: 8080)
        let absent = #expect(throws: IPVSError.self) { try table.apply(.deleteServer(rs.id, from: vs.id)) }
        #expect(absent?.errno == ENOENT)
    }

    @Test func deletionsKeepTheOrderAndTheLookupsThroughCompaction() throws {
        var table = IPVSTable()
        for index in 0..<300 { try table.apply(.addService(Self.service(index))) }
        // Deleting two of every three crosses the compaction threshold several times.
        for index in 0..<300 where index % 3 != 0 { try table.apply(.deleteService(Self.service(index).id)) }
        let kept = stride(from: 0, to: 300, by: 3).map(Self.service)
        #expect(table.entries.map(\.service) == kept)
        #expect(table.count == kept.count)
        for vs in kept { #expect(table.entry(vs.id)?.service == vs) }
        #expect(table.entry(Self.service(1).id) == nil)
        // Holes do not make two equal tables differ.
        var fresh = IPVSTable()
        for vs in kept { try fresh.apply(.addService(vs)) }
        #expect(fresh == table)
    }
}
