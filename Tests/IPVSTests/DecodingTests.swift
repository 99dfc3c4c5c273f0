import Testing

@testable import IPVS

/// Canned kernel replies, built by hand as the kernel lays them out, decoded into model values.
@Suite struct DecodingTests {
    func attr(_ type: UInt16, _ payload: [UInt8], nested: Bool = false) -> [UInt8] {
        let padding = [UInt8](repeating: 0, count: (4 - payload.count % 4) % 4)
        return le16(UInt16(4 + payload.count)) + le16(type | (nested ? 0x8000 : 0)) + payload + padding
    }

    func message(
        type: UInt16 = 0x1234,
        flags: UInt16 = 0x2,
        sequence: UInt32 = 9,
        command: UInt8,
        _ body: [UInt8]
    )
        -> [UInt8]
    {
        le32(UInt32(20 + body.count)) + le16(type) + le16(flags) + le32(sequence) + le32(0) + [command, 1, 0, 0] + body
    }

    func attributes(of bytes: [UInt8]) throws -> NetlinkAttributes {
        let messages = try NetlinkMessage.split(bytes[...])
        let (_, body) = try messages[0].genericPayload()
        return try NetlinkAttributes(body, context: "test")
    }

    /// STATS64 as Linux 4.1+ sends it: every counter 64-bit.
    var stats64: [UInt8] {
        attr(1, le64(5)) + attr(2, le64(10)) + attr(3, le64(8)) + attr(4, le64(1_000_000_000_000))
            + attr(5, le64(2000)) + attr(6, le64(1)) + attr(7, le64(2)) + attr(8, le64(3)) + attr(9, le64(4))
            + attr(10, le64(6))
    }

    @Test func serviceWithStats64StripsHashedFlag() throws {
        let service =
            attr(1, le16(2))  // AF_INET
            + attr(2, le16(6))  // TCP
            + attr(3, [192, 168, 1, 1] + [UInt8](repeating: 0, count: 12))
            + attr(4, [0x01, 0xBB])  // port 443, be16
            + attr(6, Array("wlc".utf8) + [0])
            + attr(7, le32(0x3) + le32(0xFFFF_FFFF))  // PERSISTENT | HASHED
            + attr(8, le32(360))
            + attr(9, [255, 255, 255, 0])  // netmask be32
            + attr(10, attr(1, le32(99)), nested: true)  // 32-bit STATS, must lose to STATS64
            + attr(12, stats64, nested: true)
        let observed = try IPVSDecoder.service(attributes(of: message(command: 1, attr(1, service, nested: true))))
        #expect(observed.virtualServer.id == .service(.tcp, IPAddress("192.168.1.1")!, port: 443))
        #expect(observed.virtualServer.scheduler == .weightedLeastConnection)
        #expect(observed.virtualServer.flags == [.persistent])
        #expect(observed.virtualServer.timeout == 360)
        #expect(observed.virtualServer.netmask == 0xFFFF_FF00)
        #expect(observed.virtualServer.persistenceEngine == nil)
        #expect(observed.statistics.connections == 5)
        #expect(observed.statistics.incomingBytes == 1_000_000_000_000)
        #expect(observed.statistics.outgoingByteRate == 6)
    }

    @Test func olderKernelsFallBackTo32BitStats() throws {
        let stats = attr(1, le32(7)) + attr(2, le32(70)) + attr(4, le64(4096)) + attr(6, le32(3))
        let service =
            attr(1, le16(10)) + attr(5, le32(77))  // AF_INET6, fwmark 77
            + attr(6, Array("mh".utf8) + [0]) + attr(7, le32(0x2) + le32(0)) + attr(8, le32(0)) + attr(9, le32(128))
            + attr(11, Array("sip".utf8) + [0])
            + attr(10, stats, nested: true)
        let observed = try IPVSDecoder.service(attributes(of: message(command: 1, attr(1, service, nested: true))))
        #expect(observed.virtualServer.id == .firewallMark(77, .inet6))
        #expect(observed.virtualServer.netmask == 128)
        #expect(observed.virtualServer.flags.isEmpty)
        #expect(observed.virtualServer.persistenceEngine == "sip")
        #expect(observed.statistics.connections == 7)
        #expect(observed.statistics.incomingPackets == 70)
        #expect(observed.statistics.incomingBytes == 4096)
        #expect(observed.statistics.connectionRate == 3)
    }

    @Test func destinationWithTunnelAndFamily() throws {
        let address: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [9]
        let dest =
            attr(1, address) + attr(2, [0, 0]) + attr(3, le32(0x2 | 0x100))  // TUNNEL plus a non-method bit
            + attr(4, le32(3)) + attr(5, le32(50)) + attr(6, le32(5)) + attr(7, le32(11)) + attr(8, le32(12))
            + attr(9, le32(13)) + attr(11, le16(10)) + attr(13, [2]) + attr(14, [0x17, 0xC0]) + attr(15, le16(1))
            + attr(12, stats64, nested: true)
        let observed = try IPVSDecoder.server(
            attributes(of: message(command: 5, attr(2, dest, nested: true))),
            serviceFamily: .inet
        )
        #expect(observed.realServer.address == IPAddress("2001:db8::9")!)
        #expect(observed.realServer.forwarding == .tunnel)
        #expect(observed.realServer.weight == 3)
        #expect(observed.realServer.upperThreshold == 50)
        #expect(observed.realServer.lowerThreshold == 5)
        #expect(observed.realServer.tunnelType == .gre)
        #expect(observed.realServer.tunnelPort == 6080)
        #expect(observed.realServer.tunnelFlags == .checksum)
        #expect(observed.activeConnections == 11)
        #expect(observed.inactiveConnections == 12)
        #expect(observed.persistentConnections == 13)
        #expect(observed.statistics.outgoingPackets == 8)
    }

    @Test func destinationWithoutFamilyTakesTheService() throws {
        // Kernels before 3.18 send no ADDR_FAMILY and no tunnel attributes.
        let dest =
            attr(1, [10, 0, 0, 7] + [UInt8](repeating: 0, count: 12)) + attr(2, [0, 80]) + attr(3, le32(0))
            + attr(4, le32(1)) + attr(5, le32(0)) + attr(6, le32(0)) + attr(7, le32(0)) + attr(8, le32(0))
        let observed = try IPVSDecoder.server(
            attributes(of: message(command: 5, attr(2, dest, nested: true))),
            serviceFamily: .inet
        )
        #expect(observed.realServer == RealServer(address: IPAddress("10.0.0.7")!, port: 80, forwarding: .masquerade))
    }

    @Test func unknownAttributesOfNewerKernelsAreSkipped() throws {
        let dest =
            attr(1, [10, 0, 0, 7] + [UInt8](repeating: 0, count: 12)) + attr(2, [0, 80]) + attr(3, le32(0))
            + attr(4, le32(1)) + attr(5, le32(0)) + attr(6, le32(0)) + attr(7, le32(0)) + attr(8, le32(0))
            + attr(16, le32(0xDEAD)) + attr(300, le64(1))  // types this library does not know
        let observed = try IPVSDecoder.server(
            attributes(of: message(command: 5, attr(2, dest, nested: true))),
            serviceFamily: .inet
        )
        #expect(observed.realServer == RealServer(address: IPAddress("10.0.0.7")!, port: 80, forwarding: .masquerade))
    }

    @Test func missingAttributeIsNamed() throws {
        let dest = attr(1, [10, 0, 0, 7] + [UInt8](repeating: 0, count: 12)) + attr(2, [0, 80]) + attr(3, le32(0))
        let top = try attributes(of: message(command: 5, attr(2, dest, nested: true)))
        let error = #expect(throws: IPVSError.self) { try IPVSDecoder.server(top, serviceFamily: .inet) }
        #expect(error?.code == .malformedReply)
        #expect(error?.message == "malformed reply from the kernel: test.destination: weight is missing")
    }

    @Test func truncatedAttributeIsRejected() throws {
        // An attribute that claims 40 bytes where 8 remain.
        let bytes = message(command: 1, le16(40) + le16(0x8001) + le32(0))
        let error = #expect(throws: IPVSError.self) { try attributes(of: bytes) }
        #expect(error?.code == .malformedReply)
        #expect(error?.message == "malformed reply from the kernel: test: attribute 1 claims 40 bytes")
    }

    @Test func shortIntegerIsRejected() throws {
        let service = attr(1, [2])  // AF with one byte instead of two
        let top = try attributes(of: message(command: 1, attr(1, service, nested: true)))
        let error = #expect(throws: IPVSError.self) { try IPVSDecoder.service(top) }
        #expect(error?.message == "malformed reply from the kernel: test.service: attribute 1 has 1 bytes, expected 2")
    }

    @Test func messageLengthBeyondDatagramIsRejected() {
        let bytes = le32(200) + le16(2) + le16(0) + le32(1) + le32(0) + le32(0)
        #expect(throws: IPVSError.self) { try NetlinkMessage.split(bytes[...]) }
    }

    @Test func errorMessagesCarryErrnoAndSequence() throws {
        // NLMSG_ERROR for sequence 3: error -17 (EEXIST), then an ack (0) for sequence 4.
        let error =
            le32(36) + le16(2) + le16(0x100) + le32(3) + le32(0) + le32(UInt32(bitPattern: -17))
            + [UInt8](
                repeating: 0,
                count: 16
            )
        let ack = le32(36) + le16(2) + le16(0x100) + le32(4) + le32(0) + le32(0) + [UInt8](repeating: 0, count: 16)
        let messages = try NetlinkMessage.split((error + ack)[...])
        #expect(messages.map(\.sequence) == [3, 4])
        #expect(try messages.map { try $0.errorCode() } == [17, 0])
    }

    /// Found by fuzz-netlink-replies: an error code of -2^31 trapped on negation, in the acknowledgement
    /// reader of bulk apply and in `errorCode()`. It is an errno like any other now.
    @Test func anErrorCodeOfMinusTwoToTheThirtyOneDoesNotTrap() throws {
        let reply =
            le32(36) + le16(2) + le16(0x100) + le32(9) + le32(0) + le32(0x8000_0000) + [UInt8](repeating: 0, count: 16)
        var seen: [(UInt32, Int32)] = []
        try NetlinkMessage.forEachAcknowledgement(in: reply[...]) { seen.append(($0, $1)) }
        #expect(seen.map(\.0) == [9])
        #expect(seen.map(\.1) == [Int32.min])
        #expect(try NetlinkMessage.split(reply[...]).map { try $0.errorCode() } == [Int32.min])
    }

    @Test func timeoutsInfoAndDaemon() throws {
        let timeouts = try IPVSDecoder.timeouts(
            attributes(of: message(command: 13, attr(4, le32(900)) + attr(5, le32(120)) + attr(6, le32(300))))
        )
        #expect(timeouts == Timeouts(tcp: 900, tcpFin: 120, udp: 300))
        let info = try IPVSDecoder.info(
            attributes(of: message(command: 14, attr(1, le32(0x010201)) + attr(2, le32(4096))))
        )
        #expect(info.version == "1.2.1")
        #expect(info.connectionTableSize == 4096)
        let daemon =
            attr(1, le32(2)) + attr(2, Array("eth1".utf8) + [0]) + attr(3, le32(9)) + attr(4, le16(1472))
            + attr(5, [224, 0, 0, 81]) + attr(7, le16(8848)) + attr(8, [1])
        let decoded = try IPVSDecoder.daemon(attributes(of: message(command: 9, attr(3, daemon, nested: true))))
        #expect(
            decoded
                == SyncDaemon(
                    state: .backup,
                    interface: "eth1",
                    syncID: 9,
                    maximumLength: 1472,
                    multicastGroup: IPAddress("224.0.0.81")!,
                    multicastPort: 8848,
                    multicastTTL: 1
                )
        )
    }
}
