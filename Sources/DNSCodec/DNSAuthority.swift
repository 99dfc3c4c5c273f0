/// One zone held in memory: its apex with the SOA, and records by owner name.
public struct DNSZone: Sendable {
    public let apex: DNSName
    public let soa: DNSSOA
    public let ttl: UInt32
    private(set) var records: [DNSName: [DNSRecord]]
    /// Every owner and each of its ancestors up to the apex: a name between the apex and an owner exists
    /// without records (an empty non-terminal), and is answered NODATA rather than NXDOMAIN.
    private(set) var names: Set<DNSName>

    /// - Parameter ttl: the TTL of the SOA record; negative answers are cached for the lesser of it and
    ///   `soa.minimum` (RFC 2308 5).
    public init(apex: DNSName, soa: DNSSOA, ttl: UInt32) {
        self.apex = apex
        self.soa = soa
        self.ttl = ttl
        records = [apex: [DNSRecord(name: apex, ttl: ttl, data: .soa(soa))]]
        names = [apex]
    }

    /// Adds a record; one whose owner is outside the zone is refused.
    public mutating func add(_ record: DNSRecord) throws(DNSError) {
        try addName(record.name)
        records[record.name, default: []].append(record)
    }

    /// Makes `name` exist without records (queries for it are NODATA, not NXDOMAIN); one outside the zone
    /// is refused.
    public mutating func addName(_ name: DNSName) throws(DNSError) {
        guard name.isSubdomain(of: apex) else { throw DNSError(.badRecord, "\(name) is outside the zone \(apex)") }
        var current: DNSName? = name
        while let next = current, next != apex, names.insert(next).inserted {
            current = next.parent
        }
    }

    /// The records at `name` of `type` (ANY: all of them); nil when the name does not exist in the zone.
    func lookup(_ name: DNSName, type: DNSRecordType) -> [DNSRecord]? {
        guard names.contains(name) else { return nil }
        let all = records[name] ?? []
        return type == .any ? all : all.filter { $0.type == type }
    }

    var negativeTTL: UInt32 { min(ttl, soa.minimum) }
}

/// An authoritative responder over a set of zones: bytes of a query in, bytes of the answer out, with no I/O,
/// so it is tested and fuzzed without sockets.
///
/// It follows RFC 1034 4.3.2 for a server with no delegations, wildcards or CNAMEs: a name in a zone is
/// answered with AA set; a missing name is NXDOMAIN and a name without the type NODATA, both with the zone's
/// SOA in the authority section (RFC 2308); a name in none of the zones is REFUSED. Malformed queries get
/// FORMERR when their header can be read, and responses are never answered.
public struct DNSAuthority: Sendable {
    /// The largest UDP response sent whatever EDNS asks: 1,232 bytes avoid IP fragmentation on any path
    /// with an MTU of 1,280 (DNS flag day 2020).
    public static let udpPayloadCap = 1232

    public enum Transport: Sendable {
        case udp
        case tcp
    }

    private var zones: [DNSName: DNSZone] = [:]

    public init(zones: [DNSZone] = []) {
        for zone in zones { self.zones[zone.apex] = zone }
    }

    /// The zones' apexes.
    public var apexes: [DNSName] { Array(zones.keys) }

    /// The answer to `query` as bytes, sized for `transport`; nil when nothing must be sent (a response, or
    /// fewer bytes than a header).
    public func respond(to query: [UInt8], transport: Transport) -> [UInt8]? {
        answer(to: query, transport: transport)?.bytes
    }

    /// ``respond(to:transport:)`` with the answer's response code, for counting.
    public func answer(
        to query: [UInt8],
        transport: Transport
    ) -> (bytes: [UInt8], responseCode: DNSResponseCode)? {
        let message: DNSMessage
        do {
            message = try DNSMessage.decode(query)
        } catch {
            // The header is readable: say FORMERR with its ID, unless the sender claims to be a response.
            guard query.count >= 12, query[2] & 0x80 == 0 else { return nil }
            var header = DNSHeader(id: UInt16(query[0]) << 8 | UInt16(query[1]), flags: UInt16(query[2]) << 8)
            header.isResponse = true
            header.authoritative = false
            header.truncated = false
            header.rcode = UInt8(DNSResponseCode.formatError.rawValue)
            return (DNSMessage(header: header).encode(), .formatError)
        }
        guard !message.header.isResponse else { return nil }
        let response = respond(to: message)
        switch transport {
        case .tcp: return (response.encode(limit: DNSMessage.maxSize), response.responseCode)
        case .udp:
            let asked = message.edns.map { Int($0.udpPayloadSize) } ?? DNSMessage.classicUDPSize
            let limit = min(max(asked, DNSMessage.classicUDPSize), Self.udpPayloadCap)
            return (response.encode(limit: limit), response.responseCode)
        }
    }

    /// The answer to a decoded query, before sizing.
    public func respond(to query: DNSMessage) -> DNSMessage {
        var header = DNSHeader(id: query.header.id)
        header.isResponse = true
        header.opcode = query.header.opcode
        header.recursionDesired = query.header.recursionDesired
        header.checkingDisabled = query.header.checkingDisabled
        var response = DNSMessage(header: header)
        if query.questions.count == 1 { response.questions = query.questions }
        if query.edns != nil { response.edns = DNSEDNS(udpPayloadSize: UInt16(Self.udpPayloadCap)) }
        guard query.header.opcode == 0 else { return response.with(.notImplemented) }
        guard query.questions.count == 1, let question = query.questions.first else {
            return response.with(.formatError)
        }
        if let edns = query.edns, edns.version != 0 { return response.with(.badVersion) }
        guard question.recordClass == 1 || question.recordClass == 255, question.type != .axfr,
            question.type != .ixfr, question.type != .opt, let zone = zone(containing: question.name)
        else { return response.with(.refused) }
        response.header.authoritative = true
        guard let found = zone.lookup(question.name, type: question.type) else {
            response.authority = [zone.negativeSOA]
            return response.with(.nameError)
        }
        guard !found.isEmpty else {
            response.authority = [zone.negativeSOA]
            return response
        }
        // The owner as the question spelt it: the names compress to the question and keep its case.
        response.answers = found.map { record in
            var record = record
            record.name = question.name
            return record
        }
        for case .srv(_, _, _, let target) in found.map(\.data) {
            for type in [DNSRecordType.a, .aaaa] {
                response.additional += self.zone(containing: target)?.lookup(target, type: type) ?? []
            }
        }
        return response
    }

    private func zone(containing name: DNSName) -> DNSZone? {
        var candidate: DNSName? = name
        while let current = candidate {
            if let zone = zones[current] { return zone }
            candidate = current.parent
        }
        return nil
    }
}

extension DNSZone {
    fileprivate var negativeSOA: DNSRecord { DNSRecord(name: apex, ttl: negativeTTL, data: .soa(soa)) }
}

extension DNSMessage {
    fileprivate func with(_ code: DNSResponseCode) -> DNSMessage {
        var message = self
        message.responseCode = code
        return message
    }
}
