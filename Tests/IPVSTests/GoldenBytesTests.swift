import Testing

@testable import IPVS

/// Encoded requests compared byte for byte with hand-written netlink, one comment per field.
/// Numbers are little-endian (host order on x86_64 and arm64) unless marked be16/be32.
@Suite struct GoldenBytesTests {
    static let family: UInt16 = 0x1234  // a made-up generic-netlink family id

    func encode(_ operation: IPVSOperation, sequence: UInt32 = 7) throws -> [UInt8] {
        var writer = NetlinkWriter()
        try IPVSEncoder(familyID: Self.family).encode(operation, sequence: sequence, into: &writer)
        return writer.bytes
    }

    static func header(length: UInt32, command: UInt8, flags: UInt16 = 0x0005, sequence: UInt32 = 7) -> [UInt8] {
        le32(length)  // nlmsg_len
            + le16(family)  // nlmsg_type = IPVS family id
            + le16(flags)  // NLM_F_REQUEST | NLM_F_ACK
            + le32(sequence)  // nlmsg_seq
            + le32(0)  // nlmsg_pid
            + [command, 1, 0, 0]  // genlmsghdr: cmd, version 1, reserved
    }

    @Test func addTCPService() throws {
        let vs = VirtualServer(
            id: .service(.tcp, IPAddress("10.0.0.1")!, port: 80),
            scheduler: .roundRobin
        )
        let expected: [UInt8] =
            Self.header(length: 104, command: 1)  // IPVS_CMD_NEW_SERVICE
            + le16(84) + le16(0x8001)  // IPVS_CMD_ATTR_SERVICE, NLA_F_NESTED
            + le16(6) + le16(1) + le16(2) + [0, 0]  // SVC_ATTR_AF = AF_INET
            + le16(6) + le16(2) + le16(6) + [0, 0]  // SVC_ATTR_PROTOCOL = IPPROTO_TCP
            + le16(20) + le16(3) + [10, 0, 0, 1] + [UInt8](repeating: 0, count: 12)  // SVC_ATTR_ADDR (nf_inet_addr)
            + le16(6) + le16(4) + [0x00, 0x50] + [0, 0]  // SVC_ATTR_PORT = 80 (be16)
            + le16(7) + le16(6) + Array("rr".utf8) + [0] + [0]  // SVC_ATTR_SCHED_NAME "rr\0" + pad
            + le16(12) + le16(7) + le32(0) + le32(0xFFFF_FFFF)  // SVC_ATTR_FLAGS {flags 0, mask ~0}
            + le16(8) + le16(8) + le32(0)  // SVC_ATTR_TIMEOUT = 0
            + le16(8) + le16(9) + [0xFF, 0xFF, 0xFF, 0xFF]  // SVC_ATTR_NETMASK = 255.255.255.255 (be32)
        #expect(try encode(.addService(vs)) == expected)
    }

    @Test func updatePersistentIPv6ServiceWithEngine() throws {
        let vs = VirtualServer(
            id: .service(.udp, IPAddress("2001:db8::1")!, port: 53),
            scheduler: .sourceHashing,
            flags: [.persistent, .sourceHashPort, .onePacket],
            timeout: 300,
            netmask: 64,
            persistenceEngine: "sip"
        )
        let address: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]
        let expected: [UInt8] =
            Self.header(length: 112, command: 2)  // IPVS_CMD_SET_SERVICE
            + le16(92) + le16(0x8001)  // IPVS_CMD_ATTR_SERVICE, nested
            + le16(6) + le16(1) + le16(10) + [0, 0]  // SVC_ATTR_AF = AF_INET6
            + le16(6) + le16(2) + le16(17) + [0, 0]  // SVC_ATTR_PROTOCOL = IPPROTO_UDP
            + le16(20) + le16(3) + address  // SVC_ATTR_ADDR = 2001:db8::1
            + le16(6) + le16(4) + [0x00, 0x35] + [0, 0]  // SVC_ATTR_PORT = 53 (be16)
            + le16(7) + le16(6) + Array("sh".utf8) + [0] + [0]  // SVC_ATTR_SCHED_NAME "sh"
            + le16(8) + le16(11) + Array("sip".utf8) + [0]  // SVC_ATTR_PE_NAME "sip"
            + le16(12) + le16(7) + le32(0x15) + le32(0xFFFF_FFFF)  // FLAGS persistent|onepacket|sched2
            + le16(8) + le16(8) + le32(300)  // SVC_ATTR_TIMEOUT = 300 s
            + le16(8) + le16(9) + le32(64)  // SVC_ATTR_NETMASK = /64 (a plain number for IPv6)
        #expect(try encode(.updateService(vs)) == expected)
    }

    @Test func deleteFirewallMarkService() throws {
        let expected: [UInt8] =
            Self.header(length: 40, command: 3)  // IPVS_CMD_DEL_SERVICE
            + le16(20) + le16(0x8001)  // IPVS_CMD_ATTR_SERVICE, nested
            + le16(6) + le16(1) + le16(2) + [0, 0]  // SVC_ATTR_AF = AF_INET
            + le16(8) + le16(5) + le32(42)  // SVC_ATTR_FWMARK = 42
        #expect(try encode(.deleteService(.firewallMark(42, .inet))) == expected)
    }

    @Test func addMasqueradeServer() throws {
        let rs = RealServer(
            address: IPAddress("10.244.1.15")!,
            port: 8080,
            forwarding: .masquerade,
            weight: 65535,
            upperThreshold: 100,
            lowerThreshold: 10
        )
        let service: [UInt8] =
            le16(48) + le16(0x8001)  // IPVS_CMD_ATTR_SERVICE, nested (identity only)
            + le16(6) + le16(1) + le16(2) + [0, 0]  // SVC_ATTR_AF = AF_INET
            + le16(6) + le16(2) + le16(6) + [0, 0]  // SVC_ATTR_PROTOCOL = TCP
            + le16(20) + le16(3) + [10, 96, 0, 10] + [UInt8](repeating: 0, count: 12)  // SVC_ATTR_ADDR
            + le16(6) + le16(4) + [0x00, 0x50] + [0, 0]  // SVC_ATTR_PORT = 80 (be16)
        let dest: [UInt8] =
            le16(72) + le16(0x8002)  // IPVS_CMD_ATTR_DEST, nested
            + le16(6) + le16(11) + le16(2) + [0, 0]  // DEST_ATTR_ADDR_FAMILY = AF_INET (always sent)
            + le16(20) + le16(1) + [10, 244, 1, 15] + [UInt8](repeating: 0, count: 12)  // DEST_ATTR_ADDR
            + le16(6) + le16(2) + [0x1F, 0x90] + [0, 0]  // DEST_ATTR_PORT = 8080 (be16)
            + le16(8) + le16(3) + le32(0)  // DEST_ATTR_FWD_METHOD = IP_VS_CONN_F_MASQ
            + le16(8) + le16(4) + le32(65535)  // DEST_ATTR_WEIGHT
            + le16(8) + le16(5) + le32(100)  // DEST_ATTR_U_THRESH
            + le16(8) + le16(6) + le32(10)  // DEST_ATTR_L_THRESH
        let expected = Self.header(length: 140, command: 5) + service + dest  // IPVS_CMD_NEW_DEST
        #expect(try encode(.addServer(rs, to: .service(.tcp, IPAddress("10.96.0.10")!, port: 80))) == expected)
    }

    @Test func updateGUETunnelServerBehindIPv4FirewallMark() throws {
        let rs = RealServer(
            address: IPAddress("2001:db8::2")!,
            port: 0,
            forwarding: .tunnel,
            weight: 0,
            tunnelType: .gue,
            tunnelPort: 6080,
            tunnelFlags: [.checksum, .remoteChecksum]
        )
        let address: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [2]
        let expected: [UInt8] =
            Self.header(length: 136, command: 6)  // IPVS_CMD_SET_DEST
            + le16(20) + le16(0x8001)  // IPVS_CMD_ATTR_SERVICE, nested
            + le16(6) + le16(1) + le16(2) + [0, 0]  // SVC_ATTR_AF = AF_INET
            + le16(8) + le16(5) + le32(9)  // SVC_ATTR_FWMARK = 9
            + le16(96) + le16(0x8002)  // IPVS_CMD_ATTR_DEST, nested
            + le16(6) + le16(11) + le16(10) + [0, 0]  // DEST_ATTR_ADDR_FAMILY = AF_INET6
            + le16(20) + le16(1) + address  // DEST_ATTR_ADDR = 2001:db8::2
            + le16(6) + le16(2) + [0, 0] + [0, 0]  // DEST_ATTR_PORT = 0
            + le16(8) + le16(3) + le32(2)  // DEST_ATTR_FWD_METHOD = IP_VS_CONN_F_TUNNEL
            + le16(8) + le16(4) + le32(0)  // DEST_ATTR_WEIGHT = 0 (quiescent)
            + le16(5) + le16(13) + [1] + [0, 0, 0]  // DEST_ATTR_TUN_TYPE = GUE (u8)
            + le16(6) + le16(14) + [0x17, 0xC0] + [0, 0]  // DEST_ATTR_TUN_PORT = 6080 (be16)
            + le16(6) + le16(15) + le16(3) + [0, 0]  // DEST_ATTR_TUN_FLAGS = CSUM | REMCSUM
            + le16(8) + le16(5) + le32(0)  // DEST_ATTR_U_THRESH
            + le16(8) + le16(6) + le32(0)  // DEST_ATTR_L_THRESH
        #expect(try encode(.updateServer(rs, in: .firewallMark(9, .inet))) == expected)
    }

    @Test func deleteServerSendsIdentityOnly() throws {
        let id = RealServer.ID(address: IPAddress("10.0.0.2")!, port: 80)
        let expected: [UInt8] =
            Self.header(length: 80, command: 7)  // IPVS_CMD_DEL_DEST
            + le16(20) + le16(0x8001)  // IPVS_CMD_ATTR_SERVICE, nested
            + le16(6) + le16(1) + le16(2) + [0, 0]  // SVC_ATTR_AF = AF_INET
            + le16(8) + le16(5) + le32(1)  // SVC_ATTR_FWMARK = 1
            + le16(40) + le16(0x8002)  // IPVS_CMD_ATTR_DEST, nested
            + le16(6) + le16(11) + le16(2) + [0, 0]  // DEST_ATTR_ADDR_FAMILY = AF_INET
            + le16(20) + le16(1) + [10, 0, 0, 2] + [UInt8](repeating: 0, count: 12)  // DEST_ATTR_ADDR
            + le16(6) + le16(2) + [0x00, 0x50] + [0, 0]  // DEST_ATTR_PORT = 80 (be16)
        #expect(try encode(.deleteServer(id, from: .firewallMark(1, .inet))) == expected)
    }

    @Test func timeoutsZeroFlushAndDaemons() throws {
        let timeouts: [UInt8] =
            Self.header(length: 44, command: 12)  // IPVS_CMD_SET_CONFIG
            + le16(8) + le16(4) + le32(900)  // CMD_ATTR_TIMEOUT_TCP
            + le16(8) + le16(5) + le32(120)  // CMD_ATTR_TIMEOUT_TCP_FIN
            + le16(8) + le16(6) + le32(0)  // CMD_ATTR_TIMEOUT_UDP = 0: leave unchanged
        #expect(try encode(.setTimeouts(Timeouts(tcp: 900, tcpFin: 120, udp: 0))) == timeouts)
        #expect(try encode(.flush) == Self.header(length: 20, command: 17))  // IPVS_CMD_FLUSH, no attributes
        #expect(try encode(.zero(nil)) == Self.header(length: 20, command: 16))  // IPVS_CMD_ZERO: everything

        let daemon = SyncDaemon(
            state: .master,
            interface: "eth0",
            syncID: 5,
            maximumLength: 1400,
            multicastGroup: IPAddress("239.1.2.3")!,
            multicastPort: 8848,
            multicastTTL: 2
        )
        let start: [UInt8] =
            Self.header(length: 84, command: 9)  // IPVS_CMD_NEW_DAEMON
            + le16(64) + le16(0x8003)  // IPVS_CMD_ATTR_DAEMON, nested
            + le16(8) + le16(1) + le32(1)  // DAEMON_ATTR_STATE = IP_VS_STATE_MASTER
            + le16(9) + le16(2) + Array("eth0".utf8) + [0] + [0, 0, 0]  // DAEMON_ATTR_MCAST_IFN "eth0"
            + le16(8) + le16(3) + le32(5)  // DAEMON_ATTR_SYNC_ID
            + le16(6) + le16(4) + le16(1400) + [0, 0]  // DAEMON_ATTR_SYNC_MAXLEN (u16)
            + le16(6) + le16(7) + le16(8848) + [0, 0]  // DAEMON_ATTR_MCAST_PORT (u16, host order)
            + le16(5) + le16(8) + [2] + [0, 0, 0]  // DAEMON_ATTR_MCAST_TTL (u8)
            + le16(8) + le16(5) + [239, 1, 2, 3]  // DAEMON_ATTR_MCAST_GROUP (in_addr)
        #expect(try encode(.startDaemon(daemon)) == start)
        let stop: [UInt8] =
            Self.header(length: 32, command: 10)  // IPVS_CMD_DEL_DAEMON
            + le16(12) + le16(0x8003)  // IPVS_CMD_ATTR_DAEMON, nested
            + le16(8) + le16(1) + le32(2)  // DAEMON_ATTR_STATE = IP_VS_STATE_BACKUP
        #expect(try encode(.stopDaemon(.backup)) == stop)
    }

    @Test func dumpRequestHasDumpFlagAndNoAck() {
        var writer = NetlinkWriter()
        IPVSEncoder(familyID: Self.family).query(IPVSWire.Command.getService, dump: true, sequence: 7, into: &writer)
        // NLM_F_REQUEST | NLM_F_DUMP (ROOT | MATCH) = 0x301
        #expect(writer.bytes == Self.header(length: 20, command: 4, flags: 0x0301))
    }
}

func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
func le64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

/// The batched local route request (RouteSocket.addLocalRoutes) is the request libnl's `rtnl_route_add` sends
/// for the same route, byte for byte after the header's sequence number, and as written out by hand.
@Suite struct LocalRouteRequestBytesTests {
    func encode(_ address: String, sequence: UInt32 = 9) -> [UInt8] {
        var writer = NetlinkWriter()
        RouteSocket.encodeLocalRoute(
            IPAddress(address)!,
            ifindex: 1,
            protocolNumber: HostNetwork.routeProtocol,
            sequence: sequence,
            into: &writer
        )
        return writer.bytes
    }

    @Test(arguments: ["10.96.0.10", "2001:db8::10", "0.0.0.0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"])
    func equalsWhatLibnlSends(address: String) throws {
        let ours = encode(address)
        let libnl = try RouteSocket.libnlLocalRouteRequest(
            IPAddress(address)!,
            ifindex: 1,
            protocolNumber: HostNetwork.routeProtocol
        )
        #expect(ours.count == libnl.count)
        #expect(ours.count <= RouteSocket.localRouteRequestBytes)
        #expect(ours[0..<6] == libnl[0..<6])  // nlmsg_len, nlmsg_type
        // nlmsg_flags: libnl's send adds NLM_F_REQUEST | NLM_F_ACK to the request's NLM_F_CREATE.
        #expect(flags(ours) == flags(libnl) | 0x0005)
        #expect(ours[16...] == libnl[16...])  // rtmsg and attributes, after nlmsg_seq and nlmsg_pid
    }

    @Test func writtenOutByHand() {
        let expected: [UInt8] =
            le32(60) + le16(24) + le16(0x0405) + le32(9) + le32(0)  // RTM_NEWROUTE, REQUEST|ACK|CREATE, seq 9
            + [2, 32, 0, 0, 255, 168, 254, 2] + le32(0)  // rtmsg: AF_INET /32, table local, proto 168, host, local
            + le16(8) + le16(15) + le32(255)  // RTA_TABLE = RT_TABLE_LOCAL
            + le16(8) + le16(1) + [10, 96, 0, 10]  // RTA_DST
            + le16(8) + le16(7) + [10, 96, 0, 10]  // RTA_PREFSRC (IPv4 only)
            + le16(8) + le16(4) + le32(1)  // RTA_OIF = 1
        #expect(encode("10.96.0.10") == expected)
    }

    private func flags(_ message: [UInt8]) -> UInt16 {
        UInt16(message[6]) | UInt16(message[7]) << 8
    }
}
