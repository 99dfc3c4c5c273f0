import DNSCodec
import IPVS
import KubernetesManifests

/// Turns the Service name table into the zones the DNS responder serves, following the Kubernetes DNS
/// specification for Services:
///
/// - `NAME.NAMESPACE.svc.DOMAIN`: A/AAAA with the cluster IPs; for a headless Service, the ready endpoints'
///   addresses.
/// - `_PORT._PROTO.NAME.NAMESPACE.svc.DOMAIN`: SRV for each named port, the target being the Service's name.
/// - The reverse name of each cluster IP: PTR to the Service's name; each is a zone of its own, so other
///   reverse names are refused rather than denied.
enum ServiceZone {
    /// Records live this long in caches: short, because names follow endpoints at once.
    static let ttl: UInt32 = 5

    /// The SOA every zone carries; `serial` changes with each new table.
    static func soa(domain: DNSName, serial: UInt32) -> DNSSOA {
        DNSSOA(
            primary: (try? domain.prepending("dns").prepending("ns")) ?? domain,
            mailbox: (try? domain.prepending("hostmaster")) ?? domain,
            serial: serial,
            refresh: 7200,
            retry: 1800,
            expire: 86400,
            minimum: ttl
        )
    }

    /// The responder's zones for `table`. A name over DNS's bounds (possible only with a domain near 255
    /// bytes) is left out and counted in `skipped`.
    static func authority(
        _ table: ServiceNameTable,
        domain: DNSName,
        serial: UInt32
    ) -> (authority: DNSAuthority, skipped: Int) {
        let soa = soa(domain: domain, serial: serial)
        var zone = DNSZone(apex: domain, soa: soa, ttl: ttl)
        var reverse: [IPAddress: DNSZone] = [:]
        var skipped = 0
        for entry in table.entries {
            do throws(DNSError) {
                let name = try domain.prepending("svc").prepending(entry.namespace).prepending(entry.name)
                let addresses = entry.headless ? entry.endpointAddresses : entry.clusterIPs
                for address in addresses {
                    let data: DNSRecordData = address.family == .inet ? .a(address.bytes) : .aaaa(address.bytes)
                    try zone.add(DNSRecord(name: name, ttl: ttl, data: data))
                }
                for port in entry.ports {
                    let owner = try name.prepending("_\(port.proto.description.lowercased())").prepending(
                        "_\(port.name)"
                    )
                    try zone.add(
                        DNSRecord(
                            name: owner,
                            ttl: ttl,
                            data: .srv(priority: 0, weight: 100, port: port.port, target: name)
                        )
                    )
                }
                // A Service with no address (headless, no ready endpoint) still exists: NODATA, not NXDOMAIN.
                try zone.addName(name)
                for address in entry.clusterIPs where reverse[address] == nil {
                    let owner = reverseName(address)
                    var ptrZone = DNSZone(apex: owner, soa: soa, ttl: ttl)
                    try ptrZone.add(DNSRecord(name: owner, ttl: ttl, data: .ptr(name)))
                    reverse[address] = ptrZone
                }
            } catch {
                skipped += 1
            }
        }
        return (DNSAuthority(zones: [zone] + reverse.values), skipped)
    }

    /// `d.c.b.a.in-addr.arpa`, or the 32 nibbles of an IPv6 address under `ip6.arpa`.
    static func reverseName(_ address: IPAddress) -> DNSName {
        let labels: [String] =
            address.family == .inet
            ? address.bytes.reversed().map { String($0) } + ["in-addr", "arpa"]
            : address.bytes.reversed().flatMap { [String($0 & 0x0F, radix: 16), String($0 >> 4, radix: 16)] }
                + ["ip6", "arpa"]
        // At most 34 short labels: always a valid name.
        return try! DNSName(labels: labels.map { Array($0.utf8) })
    }
}
