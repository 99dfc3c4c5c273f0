import IPVS
import Testing

@testable import ServiceTables

/// 10.2.`index / 250`.`index % 250`:8080, so sizes above 255 stay distinct.
private func server(_ index: Int, weight: UInt32 = 1) -> RealServer {
    let address = IPAddress(ipv4: 0x0A02_0000 | UInt32(index / 250) << 8 | UInt32(index % 250))
    return RealServer(address: address, port: 8080, forwarding: .masquerade, weight: weight)
}

private func desired(_ servers: [RealServer]) -> RealServerTable<DesiredRealServer> {
    RealServerTable(Dictionary(uniqueKeysWithValues: servers.map { ($0.id, DesiredRealServer(realServer: $0)) }))
}

@Suite struct RealServerTableTests {
    /// Below, at and above the size where the hash index starts, filled in random order and emptied again,
    /// against a dictionary doing the same.
    @Test(arguments: [0, 1, 10, 16, 17, 300])
    func behavesLikeADictionary(count: Int) {
        var table = RealServerTable<RealServer>()
        var reference: [RealServer.ID: RealServer] = [:]
        for index in (0..<count).shuffled() {
            table[server(index).id] = server(index)
            reference[server(index).id] = server(index)
        }
        #expect(table.count == count)
        #expect(Array(table.keys) == reference.keys.sorted())
        for index in 0..<count { #expect(table[server(index).id] == server(index)) }
        #expect(table[server(count).id] == nil)
        for index in (0..<count).shuffled().prefix(count / 2 + 1) where index < count {
            table[server(index).id] = nil
            reference[server(index).id] = nil
        }
        table[server(count + 1).id] = nil
        #expect(table.count == reference.count)
        for index in 0..<count + 2 { #expect(table[server(index).id] == reference[server(index).id]) }
        #expect(table == RealServerTable(Array(reference.values)))
    }

    /// Equal contents are equal (and hash alike) whatever order they were added in; the index is not compared.
    @Test func equalityIgnoresInsertionOrderAndIndex() {
        let servers = (0..<20).map { server($0) }
        var forward = RealServerTable<RealServer>()
        for value in servers { forward[value.id] = value }
        var backward = RealServerTable<RealServer>()
        for value in servers.reversed() { backward[value.id] = value }
        #expect(forward == backward)
        #expect(forward.hashValue == backward.hashValue)
        backward[servers[3].id] = server(3, weight: 9)
        #expect(forward != backward)
    }

    /// Of two values with one ID the last stays, as a dictionary built by assignment keeps.
    @Test func duplicatesKeepTheLast() {
        let table = RealServerTable([server(1, weight: 1), server(2), server(1, weight: 7)])
        #expect(table.count == 2)
        #expect(table[server(1).id]?.weight == 7)
    }

    /// Programmed servers equal to the desired endpoints share their storage and still read, compare and
    /// change like a table of their own.
    @Test func programmedServersShareTheDesiredTable() {
        let servers = (0..<10).map { server($0) }
        let wanted = desired(servers)
        var programmed = ProgrammedServers(servers)
        let copy = programmed
        programmed.share(wanted)
        #expect(programmed == copy)
        #expect(Array(programmed.keys) == Array(wanted.keys))
        #expect(programmed[servers[4].id] == servers[4])
        programmed[servers[4].id] = server(4, weight: 0)
        #expect(programmed[servers[4].id]?.weight == 0)
        #expect(programmed != copy)
        #expect(programmed.count == 10)
        programmed[servers[4].id] = nil
        #expect(programmed.count == 9)
        // Not the desired endpoints any more: sharing is refused.
        programmed.share(wanted)
        #expect(programmed[servers[4].id] == nil)
        programmed[servers[4].id] = servers[4]
        programmed.share(wanted)
        #expect(programmed == copy)
    }

    /// What a table holds per real server, 100,000 times at 10k Services x 10: a field added or moved in the
    /// wrong place costs a padded word a real server (docs/benchmarks.md, ipvsd's resident memory).
    @Test func aDesiredRealServerTakesSixtyFourBytes() {
        #expect(MemoryLayout<RealServer>.size <= 42)
        #expect(MemoryLayout<DesiredRealServer>.stride == 64)
    }
}
