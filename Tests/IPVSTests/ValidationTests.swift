import Testing

@testable import IPVS

#if canImport(Glibc)
import Glibc
#endif

/// Input the kernel would reject (or misread) is refused before sending, with a message naming the field.
@Suite struct ValidationTests {
    static let v4 = VirtualServer.ID.service(.tcp, IPAddress("10.0.0.1")!, port: 80)
    static let v6 = VirtualServer.ID.service(.tcp, IPAddress("2001:db8::1")!, port: 80)

    static let cases: [(IPVSOperation, String)] = [
        (
            .addService(VirtualServer(id: v4, scheduler: "a-very-long-scheduler")),
            "add service 10.0.0.1:80/tcp: scheduler name 'a-very-long-scheduler' must be 1 to 15 bytes"
        ),
        (
            .addService(VirtualServer(id: v4, scheduler: "")),
            "add service 10.0.0.1:80/tcp: scheduler name '' must be 1 to 15 bytes"
        ),
        (
            .updateService(VirtualServer(id: v6, netmask: 0)),
            "update service [2001:db8::1]:80/tcp: IPv6 persistence prefix length 0 is not in 1...128"
        ),
        (
            .addService(VirtualServer(id: v4, flags: [.hashed])),
            "add service 10.0.0.1:80/tcp: flags 0x2 include bits the kernel owns"
        ),
        (
            .addService(VirtualServer(id: v4, persistenceEngine: "")),
            "add service 10.0.0.1:80/tcp: persistence engine name '' must be 1 to 15 bytes"
        ),
        (
            .addServer(RealServer(address: IPAddress("2001:db8::2")!, port: 80), to: v4),
            "add real server [2001:db8::2]:80 to 10.0.0.1:80/tcp: real server is ipv6 but the service is ipv4;"
                + " mixed families need tunnel forwarding"
        ),
        (
            .updateServer(RealServer(address: IPAddress("10.0.0.2")!, port: 80, weight: 3_000_000_000), in: v4),
            "update real server 10.0.0.2:80 in 10.0.0.1:80/tcp: weight 3000000000 is not in 0...2147483647"
        ),
        (
            .startDaemon(SyncDaemon(state: .master, interface: "an-interface-name")),
            "start master sync daemon: interface name 'an-interface-name' must be 1 to 15 bytes"
        ),
    ]

    @Test(arguments: cases)
    func refusedBeforeSending(operation: IPVSOperation, message: String) {
        var writer = NetlinkWriter()
        let error = #expect(throws: IPVSError.self) {
            try IPVSEncoder(familyID: 1).encode(operation, sequence: 1, into: &writer)
        }
        #expect(error?.code == .invalidInput)
        #expect(error?.message == message)
        #expect(error?.operation == operation)
        #expect(writer.bytes.isEmpty)
    }

    @Test func tunnelAllowsMixedFamilies() throws {
        var writer = NetlinkWriter()
        let rs = RealServer(address: IPAddress("2001:db8::2")!, port: 80, forwarding: .tunnel)
        try IPVSEncoder(familyID: 1).encode(.addServer(rs, to: Self.v4), sequence: 1, into: &writer)
        #expect(!writer.bytes.isEmpty)
    }
}

@Suite struct ModelTests {
    @Test(arguments: ["10.0.0.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::", "::ffff:10.0.0.1", "fe80::1:2"])
    func addressRoundTrip(text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == text)
        #expect(IPAddress(bytes: address.bytes) == address)
    }

    @Test(arguments: ["", "10.0.0", "10.0.0.256", "1:2:3:4:5:6:7:8:9", "[::1]", "10.0.0.1/24", "host"])
    func badAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    /// The IPv4 text parser is written out (inet_pton was a sixteenth of listing 10k x 10); it must accept
    /// and read exactly what glibc's inet_pton does. Texts with a NUL are refused (inet_pton stops there).
    @Test func addressParsingAgreesWithInetPton() {
        var texts = [
            "0.0.0.0", "1.2.3.4", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.02.3.4", "00.0.0.0", "1.2.3.04",
            "1.2.3.0", "1.2.3", "1.2.3.4.", ".1.2.3.4", "1..2.3", "1.2.3.4.5", "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4",
            "1.2.3.4a", "a1.2.3.4", "99999999999999999999.1.1.1", "1.2.3.99999999999999", "1.2.3.1000", "1.2.3.25x",
            "", ".", "...", "1", "::", "::1", "::ffff:1.2.3.4", "1.2.3.4::", "1.2::", "fe80::1%eth0", "2001:db8::1",
            "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", ":::", "[::1]", "١.٢.٣.٤",
        ]
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789.:af".utf8)
        for _ in 0..<20_000 {
            let length = Int.random(in: 1...16, using: &generator)
            texts.append(
                String(decoding: (0..<length).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self)
            )
        }
        for text in texts {
            var expected = [UInt8](repeating: 0, count: 16)
            let family = text.utf8.contains(UInt8(ascii: ":")) ? AF_INET6 : AF_INET
            let accepted = text.withCString { inet_pton(family, $0, &expected) } == 1
            let parsed = IPAddress(text)
            #expect(parsed?.bytes == (accepted ? Array(expected.prefix(family == AF_INET ? 4 : 16)) : nil), "\(text)")
        }
        #expect(IPAddress("1.2.3.4\u{0}5") == nil)
        #expect(IPAddress("::1\u{0}x") == nil)
        #expect(IPAddress("10.0.0.1"[...]) == IPAddress(ipv4: 0x0A00_0001))
    }

    @Test func addressOrderIsNumeric() throws {
        let sorted = ["10.0.0.10", "10.0.0.9", "9.0.0.1", "2001:db8::1"].compactMap(IPAddress.init).sorted()
        #expect(sorted.map(\.description) == ["9.0.0.1", "10.0.0.9", "10.0.0.10", "2001:db8::1"])
        #expect(IPAddress(ipv4: 0x0A00_0001) == IPAddress("10.0.0.1"))
        #expect(IPAddress("10.0.0.1")?.ipv4Value == 0x0A00_0001)
    }

    @Test func identities() {
        #expect(
            VirtualServer.ID.service(.udp, IPAddress("2001:db8::1")!, port: 53).description == "[2001:db8::1]:53/udp"
        )
        #expect(VirtualServer.ID.firewallMark(7, .inet).description == "fwmark 7")
        #expect(VirtualServer.ID.firewallMark(7, .inet6).description == "fwmark 7/ipv6")
        #expect(VirtualServer(id: .firewallMark(1, .inet6)).netmask == 128)
        #expect(VirtualServer(id: .firewallMark(1, .inet)).netmask == 0xFFFF_FFFF)
    }

    @Test func kernelErrnosBecomeOperatorMessages() {
        let vs = VirtualServer(id: .service(.tcp, IPAddress("10.0.0.1")!, port: 80), scheduler: "foo")
        let rs = RealServer(address: IPAddress("10.0.0.2")!, port: 80)
        let cases: [(Int32, IPVSOperation, IPVSError.Code, String)] = [
            (17, .addService(vs), .alreadyExists, "service 10.0.0.1:80/tcp already exists"),
            (
                2, .addService(vs), .schedulerUnavailable,
                "scheduler 'foo' not available (is the ip_vs_foo module installed?)"
            ),
            (3, .deleteService(vs.id), .notFound, "service 10.0.0.1:80/tcp does not exist"),
            (
                17, .addServer(rs, to: vs.id), .alreadyExists,
                "real server 10.0.0.2:80 already exists in service 10.0.0.1:80/tcp"
            ),
            (
                2, .deleteServer(rs.id, from: vs.id), .notFound,
                "real server 10.0.0.2:80 does not exist in service 10.0.0.1:80/tcp"
            ),
            (1, .flush, .permissionDenied, "flush: permission denied: IPVS needs CAP_NET_ADMIN (run as root)"),
            (
                22, .addServer(rs, to: vs.id), .invalidArgument,
                "add real server 10.0.0.2:80 to 10.0.0.1:80/tcp: the kernel rejected it: Invalid argument (EINVAL)"
            ),
            (16, .flush, .kernel, "flush: Device or resource busy (EBUSY)"),
        ]
        for (errno, operation, code, message) in cases {
            let error = IPVSError.kernel(errno: errno, operation: operation)
            #expect(error.code == code)
            #expect(error.message == message)
            #expect(error.errno == errno)
        }
    }
}
