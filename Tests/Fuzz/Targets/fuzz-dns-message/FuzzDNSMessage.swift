import DNSCodec

// libFuzzer target: the DNS message decoder and the authoritative responder on one datagram. Beyond not
// crashing, it checks two properties: a decoded message encodes to bytes that decode to the same message, and
// every answer the responder sends decodes and fits its transport's limit.

private let authority: DNSAuthority = {
    let soa = DNSSOA(
        primary: try! DNSName("ns.dns.cluster.local"),
        mailbox: try! DNSName("hostmaster.cluster.local"),
        serial: 1,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: 5
    )
    var zone = DNSZone(apex: try! DNSName("cluster.local"), soa: soa, ttl: 5)
    let web = try! DNSName("web.default.svc.cluster.local")
    try! zone.add(DNSRecord(name: web, ttl: 5, data: .a([10, 96, 0, 10])))
    try! zone.add(DNSRecord(name: web, ttl: 5, data: .aaaa(Array(repeating: 0xFD, count: 16))))
    try! zone.add(
        DNSRecord(
            name: try! DNSName("_http._tcp.web.default.svc.cluster.local"),
            ttl: 5,
            data: .srv(priority: 0, weight: 100, port: 80, target: web)
        )
    )
    for index in 0..<64 {
        try! zone.add(
            DNSRecord(name: try! DNSName("db.default.svc.cluster.local"), ttl: 5, data: .a([10, 244, 0, UInt8(index)]))
        )
    }
    return DNSAuthority(zones: [zone])
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDNSMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? DNSMessage.decode(bytes) {
        let again = try? DNSMessage.decode(message.encode())
        precondition(again == message, "decode(encode(m)) != m")
    }
    for (transport, limit) in [(DNSAuthority.Transport.udp, DNSAuthority.udpPayloadCap), (.tcp, DNSMessage.maxSize)] {
        guard let answer = authority.respond(to: bytes, transport: transport) else { continue }
        precondition(answer.count <= limit, "answer of \(answer.count) bytes over \(limit)")
        precondition((try? DNSMessage.decode(answer)) != nil, "undecodable answer")
    }
    return 0
}
