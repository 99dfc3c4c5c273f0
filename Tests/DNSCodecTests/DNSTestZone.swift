import DNSCodec

/// A zone like the agent's: cluster.local with one ClusterIP Service, a named SRV port and a headless Service.
enum DNSTestZone {
    static let soa = DNSSOA(
        primary: name("ns.dns.cluster.local"),
        mailbox: name("hostmaster.cluster.local"),
        serial: 7,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: 5
    )

    static func name(_ text: String) -> DNSName { try! DNSName(text) }

    static func authority(extra: [DNSRecord] = []) -> DNSAuthority {
        var zone = DNSZone(apex: name("cluster.local"), soa: soa, ttl: 5)
        let web = name("web.default.svc.cluster.local")
        let records = [
            DNSRecord(name: web, ttl: 5, data: .a([10, 96, 0, 10])),
            DNSRecord(
                name: name("_http._tcp.web.default.svc.cluster.local"),
                ttl: 5,
                data: .srv(priority: 0, weight: 100, port: 80, target: web)
            ),
            DNSRecord(name: name("db.default.svc.cluster.local"), ttl: 5, data: .a([10, 244, 1, 5])),
            DNSRecord(name: name("db.default.svc.cluster.local"), ttl: 5, data: .a([10, 244, 2, 5])),
        ]
        for record in records + extra { try! zone.add(record) }
        var reverse = DNSZone(apex: name("10.0.96.10.in-addr.arpa"), soa: soa, ttl: 5)
        try! reverse.add(DNSRecord(name: name("10.0.96.10.in-addr.arpa"), ttl: 5, data: .ptr(web)))
        return DNSAuthority(zones: [zone, reverse])
    }

    static func query(_ text: String, _ type: DNSRecordType, id: UInt16 = 0x1234, edns: DNSEDNS? = nil) -> [UInt8] {
        var message = DNSMessage(header: DNSHeader(id: id))
        message.header.recursionDesired = true
        message.questions = [DNSQuestion(name: name(text), type: type)]
        message.edns = edns
        return message.encode()
    }
}
