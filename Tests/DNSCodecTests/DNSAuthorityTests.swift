import DNSCodec
import Testing

/// The responder's answers, decoded: RFC 1035/2308 outcomes, sizing, and what is never answered.
@Suite struct DNSAuthorityTests {
    static func ask(
        _ name: String,
        _ type: DNSRecordType,
        edns: DNSEDNS? = nil,
        transport: DNSAuthority.Transport = .udp,
        authority: DNSAuthority = DNSTestZone.authority()
    ) throws -> (message: DNSMessage, size: Int) {
        let bytes = try #require(authority.respond(to: DNSTestZone.query(name, type, edns: edns), transport: transport))
        return (try DNSMessage.decode(bytes), bytes.count)
    }

    @Test func answerIsAuthoritative() throws {
        let (message, _) = try Self.ask("web.default.svc.cluster.local", .a)
        #expect(message.header.isResponse && message.header.authoritative && message.header.recursionDesired)
        #expect(message.responseCode == .noError)
        #expect(message.answers.map(\.data) == [.a([10, 96, 0, 10])])
        #expect(message.authority.isEmpty)
    }

    @Test func headlessNameHasEveryAddress() throws {
        let (message, _) = try Self.ask("db.default.svc.cluster.local", .a)
        #expect(Set(message.answers.map(\.data)) == [.a([10, 244, 1, 5]), .a([10, 244, 2, 5])])
    }

    @Test func caseOfTheQuestionComesBack() throws {
        let (message, _) = try Self.ask("WEB.default.SVC.cluster.local", .a)
        #expect(message.answers.first?.name.labels.first == Array("WEB".utf8))
        #expect(message.answers.count == 1)
    }

    @Test func missingNameIsNXDOMAINWithSOA() throws {
        let (message, _) = try Self.ask("nope.default.svc.cluster.local", .a)
        #expect(message.responseCode == .nameError)
        #expect(message.header.authoritative)
        #expect(message.answers.isEmpty)
        #expect(message.authority.map(\.type) == [.soa])
        #expect(message.authority.first?.name == DNSTestZone.name("cluster.local"))
    }

    @Test func missingTypeIsNODATAWithSOA() throws {
        let (message, _) = try Self.ask("web.default.svc.cluster.local", .aaaa)
        #expect(message.responseCode == .noError)
        #expect(message.answers.isEmpty)
        #expect(message.authority.map(\.type) == [.soa])
    }

    @Test(arguments: ["svc.cluster.local", "default.svc.cluster.local", "_tcp.web.default.svc.cluster.local"])
    func emptyNonTerminalIsNODATA(name: String) throws {
        let (message, _) = try Self.ask(name, .a)
        #expect(message.responseCode == .noError)
        #expect(message.authority.map(\.type) == [.soa])
    }

    @Test func apexAnswersSOA() throws {
        let (message, _) = try Self.ask("cluster.local", .soa)
        #expect(message.answers.map(\.type) == [.soa])
    }

    @Test(arguments: ["example.com", "local", "cluster.local.evil", "8.8.8.8.in-addr.arpa"])
    func outsideTheZonesIsREFUSED(name: String) throws {
        let (message, _) = try Self.ask(name, .a)
        #expect(message.responseCode == .refused)
        #expect(!message.header.authoritative)
        #expect(message.answers.isEmpty && message.authority.isEmpty)
    }

    @Test func ptrForAClusterIP() throws {
        let (message, _) = try Self.ask("10.0.96.10.in-addr.arpa", .ptr)
        #expect(message.answers.map(\.data) == [.ptr(DNSTestZone.name("web.default.svc.cluster.local"))])
        let other = try Self.ask("10.0.96.10.in-addr.arpa", .a).message
        #expect(other.responseCode == .noError && other.authority.map(\.type) == [.soa])
    }

    @Test func transfersAndOtherClassesAreRefused() throws {
        #expect(try Self.ask("cluster.local", .axfr).message.responseCode == .refused)
        var query = try DNSMessage.decode(DNSTestZone.query("web.default.svc.cluster.local", .a))
        query.questions[0].recordClass = 3  // CH
        #expect(DNSTestZone.authority().respond(to: query).responseCode == .refused)
    }

    @Test func questionCountMustBeOne() throws {
        for count in [0, 2] {
            var query = try DNSMessage.decode(DNSTestZone.query("web.default.svc.cluster.local", .a))
            query.questions = Array(repeating: query.questions[0], count: count)
            let bytes = try #require(DNSTestZone.authority().respond(to: query.encode(), transport: .udp))
            let response = try DNSMessage.decode(bytes)
            #expect(response.responseCode == .formatError)
            #expect(response.questions.isEmpty && response.answers.isEmpty)
        }
    }

    @Test func otherOpcodesAreNOTIMP() throws {
        var query = try DNSMessage.decode(DNSTestZone.query("web.default.svc.cluster.local", .a))
        query.header.opcode = 2  // STATUS
        #expect(DNSTestZone.authority().respond(to: query).responseCode == .notImplemented)
    }

    @Test func unknownEDNSVersionIsBADVERS() throws {
        let (message, _) = try Self.ask(
            "web.default.svc.cluster.local",
            .a,
            edns: DNSEDNS(udpPayloadSize: 1232, version: 1)
        )
        #expect(message.responseCode == .badVersion)
        #expect(message.edns?.version == 0)
        #expect(message.answers.isEmpty)
    }

    @Test func malformedQueryIsFORMERRWithItsID() throws {
        let bytes = [0xBE, 0xEF, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1] as [UInt8]
        let response = try DNSMessage.decode(try #require(DNSTestZone.authority().respond(to: bytes, transport: .udp)))
        #expect(response.header.id == 0xBEEF)
        #expect(response.header.isResponse)
        #expect(response.responseCode == .formatError)
    }

    @Test func responsesAndRuntsAreNeverAnswered() throws {
        var query = DNSTestZone.query("web.default.svc.cluster.local", .a)
        query[2] |= 0x80
        #expect(DNSTestZone.authority().respond(to: query, transport: .udp) == nil)
        #expect(DNSTestZone.authority().respond(to: Array(query.prefix(11)), transport: .udp) == nil)
        // A malformed message with QR set: no FORMERR either (two servers must not bounce errors forever).
        #expect(DNSTestZone.authority().respond(to: Array(query.prefix(13)), transport: .udp) == nil)
    }

    /// 100 addresses: 100 × 16 bytes of answers after a 47-byte question.
    static let bigRecords = (0..<100).map {
        DNSRecord(name: DNSTestZone.name("big.default.svc.cluster.local"), ttl: 5, data: .a([10, 1, 0, UInt8($0)]))
    }

    static func large() -> DNSAuthority { DNSTestZone.authority(extra: bigRecords) }

    @Test func udpWithoutEDNSIsCutAt512WithTC() throws {
        let (message, size) = try Self.ask("big.default.svc.cluster.local", .a, authority: Self.large())
        #expect(message.header.truncated)
        #expect(message.answers.isEmpty)
        #expect(message.questions.count == 1)
        #expect(size <= 512)
    }

    @Test func udpHonoursEDNSUpToTheCap() throws {
        // 4096 asked, 1232 given: still too small for 1,647 bytes.
        let capped = try Self.ask(
            "big.default.svc.cluster.local",
            .a,
            edns: DNSEDNS(udpPayloadSize: 4096),
            authority: Self.large()
        )
        #expect(capped.message.header.truncated && capped.message.edns != nil)
        #expect(capped.size <= DNSAuthority.udpPayloadCap)
        // 60 addresses (1,007 bytes) fit in 1232 but not in 512.
        let name = DNSTestZone.name("mid.default.svc.cluster.local")
        let mid = DNSTestZone.authority(
            extra: (0..<60).map { DNSRecord(name: name, ttl: 5, data: .a([10, 2, 0, UInt8($0)])) }
        )
        let plain = try Self.ask("mid.default.svc.cluster.local", .a, authority: mid)
        #expect(plain.message.header.truncated)
        let edns = try Self.ask(
            "mid.default.svc.cluster.local",
            .a,
            edns: DNSEDNS(udpPayloadSize: 1232),
            authority: mid
        )
        #expect(!edns.message.header.truncated)
        #expect(edns.message.answers.count == 60)
        // A payload size under 512 means 512.
        let tiny = try Self.ask("web.default.svc.cluster.local", .a, edns: DNSEDNS(udpPayloadSize: 100))
        #expect(tiny.message.answers.count == 1)
    }

    @Test func tcpCarriesEverything() throws {
        let (message, _) = try Self.ask("big.default.svc.cluster.local", .a, transport: .tcp, authority: Self.large())
        #expect(!message.header.truncated)
        #expect(message.answers.count == 100)
    }

    @Test func additionalThatDoesNotFitIsDroppedWithoutTC() throws {
        // 6 SRV records fit in 512 bytes; their target's 100 addresses would not.
        let name = DNSTestZone.name("_p._tcp.web.default.svc.cluster.local")
        let target = DNSTestZone.name("big.default.svc.cluster.local")
        let authority = DNSTestZone.authority(
            extra: Self.bigRecords
                + (0..<6).map {
                    DNSRecord(name: name, ttl: 5, data: .srv(priority: 0, weight: 1, port: UInt16($0), target: target))
                }
        )
        let (message, size) = try Self.ask("_p._tcp.web.default.svc.cluster.local", .srv, authority: authority)
        #expect(!message.header.truncated)
        #expect(message.answers.count == 6)
        #expect(message.additional.count < 100)
        #expect(size <= 512)
    }

    @Test func zoneRefusesForeignRecords() {
        var zone = DNSZone(apex: DNSTestZone.name("cluster.local"), soa: DNSTestZone.soa, ttl: 5)
        #expect(throws: DNSError.self) {
            try zone.add(DNSRecord(name: DNSTestZone.name("example.com"), ttl: 5, data: .a([1, 2, 3, 4])))
        }
    }
}
