import DNSCodec
import Testing

@Suite struct DNSCodecGoldenTests {
    static let question: [UInt8] =
        [3] + Array("web".utf8) + [7] + Array("default".utf8) + [3] + Array("svc".utf8) + [7]
        + Array("cluster".utf8) + [5] + Array("local".utf8) + [0]

    @Test func queryBytes() {
        let bytes = DNSTestZone.query("web.default.svc.cluster.local", .a)
        let expected: [UInt8] =
            [
                0x12, 0x34,  // ID
                0x01, 0x00,  // RD
                0x00, 0x01,  // QDCOUNT 1
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // AN, NS, AR 0
            ] + Self.question + [
                0x00, 0x01,  // QTYPE A
                0x00, 0x01,  // QCLASS IN
            ]
        #expect(bytes == expected)
    }

    @Test func answerPointsToTheQuestion() throws {
        let query = DNSTestZone.query("web.default.svc.cluster.local", .a)
        let response = try #require(DNSTestZone.authority().respond(to: query, transport: .udp))
        let expected: [UInt8] =
            [
                0x12, 0x34,
                0x85, 0x00,  // QR, AA, RD; NOERROR
                0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // QD 1, AN 1
            ] + Self.question + [0x00, 0x01, 0x00, 0x01] + [
                0xC0, 0x0C,  // owner: pointer to the question name at 12
                0x00, 0x01, 0x00, 0x01,  // A IN
                0x00, 0x00, 0x00, 0x05,  // TTL 5
                0x00, 0x04, 10, 96, 0, 10,  // RDLENGTH 4, 10.96.0.10
            ]
        #expect(response == expected)
    }

    @Test func nxdomainCarriesTheSOACompressed() throws {
        let query = DNSTestZone.query("nope.default.svc.cluster.local", .a)
        let response = try #require(DNSTestZone.authority().respond(to: query, transport: .udp))
        let expected: [UInt8] =
            [
                0x12, 0x34,
                0x85, 0x03,  // QR, AA, RD; NXDOMAIN
                0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,  // QD 1, NS 1
                4,
            ] + Array("nope".utf8) + [7] + Array("default".utf8) + [3] + Array("svc".utf8) + [7]
            + Array("cluster".utf8) + [5] + Array("local".utf8) + [0, 0x00, 0x01, 0x00, 0x01] + [
                0xC0, 0x1D,  // owner cluster.local: pointer to "cluster" at 29
                0x00, 0x06, 0x00, 0x01,  // SOA IN
                0x00, 0x00, 0x00, 0x05,  // TTL: min(SOA TTL, minimum)
                0x00, 0x2A,  // RDLENGTH 42
                2, 0x6E, 0x73, 3, 0x64, 0x6E, 0x73, 0xC0, 0x1D,  // ns.dns.<cluster.local>
                10,
            ] + Array("hostmaster".utf8) + [
                0xC0, 0x1D,  // hostmaster.<cluster.local>
                0, 0, 0, 7,  // serial
                0, 0, 0x1C, 0x20,  // refresh 7200
                0, 0, 0x07, 0x08,  // retry 1800
                0, 0x01, 0x51, 0x80,  // expire 86400
                0, 0, 0, 5,  // minimum
            ]
        #expect(response == expected)
    }

    @Test func srvTargetCompressesToTheService() throws {
        let query = DNSTestZone.query("_http._tcp.web.default.svc.cluster.local", .srv)
        let response = try #require(DNSTestZone.authority().respond(to: query, transport: .udp))
        // The question is at 12: _http (6) _tcp (5) then web... at 23.
        let answer: [UInt8] =
            [
                0xC0, 0x0C, 0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05,  // SRV IN TTL 5
                0x00, 0x25,  // RDLENGTH 37
                0x00, 0x00, 0x00, 0x64, 0x00, 0x50,  // priority 0, weight 100, port 80
            ] + Array(Self.question)  // target uncompressed (RFC 2782)
        let additional: [UInt8] = [
            0xC0, 0x17, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x04, 10, 96, 0, 10,
        ]
        #expect(Array(response[4..<12]) == [0, 1, 0, 1, 0, 0, 0, 1])
        #expect(Array(response.suffix(answer.count + additional.count)) == answer + additional)
    }

    @Test func ednsQueryBytesAndEcho() throws {
        let query = DNSTestZone.query("web.default.svc.cluster.local", .a, edns: DNSEDNS(udpPayloadSize: 4096))
        let opt: [UInt8] = [
            0x00,  // root
            0x00, 0x29,  // OPT
            0x10, 0x00,  // UDP payload 4096
            0x00, 0x00, 0x00, 0x00,  // extended RCODE, version, flags
            0x00, 0x00,  // no options
        ]
        #expect(Array(query.suffix(opt.count)) == opt)
        #expect(query[11] == 1)  // ARCOUNT
        let response = try #require(DNSTestZone.authority().respond(to: query, transport: .udp))
        #expect(Array(response.suffix(11)) == [0x00, 0x00, 0x29, 0x04, 0xD0, 0, 0, 0, 0, 0, 0])  // 1232
    }

    @Test func roundTrip() throws {
        var message = DNSMessage(header: DNSHeader(id: 9))
        message.header.isResponse = true
        message.questions = [DNSQuestion(name: DNSTestZone.name("WeB.Default.svc.cluster.local"), type: .any)]
        message.answers = [
            DNSRecord(name: DNSTestZone.name("a.b"), ttl: 1, data: .aaaa(Array(repeating: 0xFE, count: 16))),
            DNSRecord(name: DNSTestZone.name("a.b"), ttl: 2, data: .ptr(DNSTestZone.name("c.a.b"))),
            DNSRecord(name: DNSTestZone.name("b"), ttl: 3, data: .soa(DNSTestZone.soa)),
            DNSRecord(
                name: DNSTestZone.name("x"),
                type: DNSRecordType(rawValue: 16),
                recordClass: 1,
                ttl: 4,
                data: .raw([3, 0x61, 0x62, 0x63])
            ),
        ]
        message.additional = [DNSRecord(name: .root, ttl: 0, data: .cname(DNSTestZone.name("y")))]
        message.edns = DNSEDNS(udpPayloadSize: 1400, version: 0, dnssecOK: true)
        let decoded = try DNSMessage.decode(message.encode())
        #expect(decoded == message)
        // Case survives, equality ignores it.
        #expect(decoded.questions[0].name.labels[0] == Array("WeB".utf8))
        #expect(decoded.questions[0].name == DNSTestZone.name("web.default.svc.cluster.local"))
    }
}
