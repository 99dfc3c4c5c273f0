import DNSCodec
import Metrics
import Prometheus

/// `ipvsd_dns_queries_total{transport="udp|tcp",rcode="NOERROR|NXDOMAIN|REFUSED|FORMERR|NOTIMP|BADVERS|dropped"}`:
/// every message the responder read, by the answer's response code, or `dropped` when none was sent (a
/// response, a runt).
final class DNSMetrics: Sendable {
    private let counters: [String: Metrics.Counter]

    init(factory: PrometheusMetricsFactory) {
        var counters: [String: Metrics.Counter] = [:]
        let codes: [DNSResponseCode] = [.noError, .nameError, .refused, .formatError, .notImplemented, .badVersion]
        for transport in ["udp", "tcp"] {
            for code in codes.map(\.description) + ["dropped"] {
                counters[transport + code] = Metrics.Counter(
                    label: "ipvsd_dns_queries_total",
                    dimensions: [("transport", transport), ("rcode", code)],
                    factory: factory
                )
            }
        }
        self.counters = counters
    }

    func record(_ transport: DNSAuthority.Transport, _ code: DNSResponseCode?) {
        let name = transport == .udp ? "udp" : "tcp"
        counters[name + (code?.description ?? "dropped")]?.increment()
    }
}
