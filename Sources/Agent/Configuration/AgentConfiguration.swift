import IPVS
import ServiceTables

/// The agent's own settings (the config file), with documented defaults. See docs/ipvsd.md.
public struct AgentConfiguration: Sendable, Equatable {
    /// A manifest file or a directory of them: Services, EndpointSlices, Endpoints.
    public var manifests: String = "/etc/ipvsd/manifests"
    /// Where the agent remembers what it owns and the cluster IPs it allocated (JSON, written atomically).
    public var stateFile: String = "/var/lib/ipvsd/state.json"
    /// ipvsd's dummy interface, created when missing. VIPs are local routes through lo; addresses on it count as bound.
    public var interface: String = "ipvs0"
    /// Whether to bind virtual IPs on `interface` at all (off when another tool manages addresses).
    public var bindAddresses: Bool = true
    /// The scheduler of services without a `ipvsd.io/scheduler` annotation.
    public var scheduler: Scheduler = .roundRobin
    /// Weight of each ready endpoint, unless annotated.
    public var weight: UInt32 = 1
    /// Where Services without a cluster IP get one (IPv4 and optionally IPv6), as kube-apiserver would.
    public var serviceCIDRs: [String] = ["10.96.0.0/12"]
    /// Full resync period: reads the kernel and repairs drift another tool caused.
    public var resyncPeriod: Duration = .seconds(30)
    /// Events closer together than this are coalesced into one sync.
    public var debounce: Duration = .milliseconds(100)
    /// How often manifest files are checked for changes (SIGHUP reloads at once).
    public var watchInterval: Duration = .milliseconds(500)
    /// How long a removed TCP real server may drain at weight 0 before it is deleted.
    public var gracePeriod: Duration = .seconds(30)
    /// How often draining real servers' connection counts are read.
    public var drainCheckInterval: Duration = .seconds(1)
    /// Longest wait between retries after a failed sync (backoff doubles from 1 s up to this).
    public var maxRetryBackoff: Duration = .seconds(30)
    /// HTTP listener for /metrics, /healthz and /readyz; empty disables it.
    public var metricsAddress: String = "127.0.0.1:9750"
    /// Whether /metrics reads per virtual and real server counters from the kernel at each scrape.
    public var kernelStatistics: Bool = true
    /// The admin API's Unix socket (its directory is made root-only).
    public var adminSocket: String = "/run/ipvsd/admin.sock"
    /// Whether to set the IPVS sysctls and strict ARP (`sysctls`) at start.
    public var manageSysctls: Bool = true
    public var sysctls: IPVSSysctls = IPVSSysctls()
    /// Health checking defaults; per-service annotations override them.
    public var health: HealthDefaults = HealthDefaults()
    /// The network namespace to program (a path such as /run/netns/lb); empty for the agent's own.
    /// Health probes still run from the agent's own namespace, so backends must be reachable from there;
    /// to put everything in one namespace, start ipvsd inside it (`ip netns exec lb ipvsd run`).
    public var networkNamespace: String = ""
    /// This node's name as Kubernetes knows it: endpoints whose `nodeName` equals it are local
    /// (internalTrafficPolicy and externalTrafficPolicy Local, node hints). Empty: `--node-name`, else the
    /// NODE_NAME environment variable, else the host name (kube-proxy's default).
    public var nodeName: String = ""
    /// This node's topology zone, for EndpointSlice zone hints; empty: zone hints are not used.
    public var zone: String = ""
    /// Which traffic the agent masquerades with its nftables table (docs/ipvsd.md, "Masquerade").
    public var masquerade: MasqueradeMode = .hairpin
    /// The node addresses NodePort Services listen on: host addresses inside these CIDRs. Empty: the
    /// node's primary addresses (the first global address of each family on the default route's interface).
    public var nodePortAddresses: [String] = []
    /// Watch the Kubernetes API for Services and EndpointSlices instead of reading `manifests`.
    public var kubernetes: KubernetesSettings = KubernetesSettings()
    /// The DNS responder for Service names (docs/ipvsd.md, "DNS"); nil, the default, serves no DNS.
    public var dns: DNSSettings?

    public init() {}
}

/// Health-check defaults from the config file.
public struct HealthDefaults: Sendable, Equatable {
    /// Whether TCP virtual servers get a TCP connect check unless annotated otherwise. UDP and SCTP
    /// services are checked only when annotated: a UDP probe needs a payload the backend answers.
    public var enabled: Bool = true
    public var spec: HealthCheckSpec = HealthCheckSpec()
    public var allDownPolicy: AllDownPolicy = .keepAll
    /// Checks in flight at once, across all targets.
    public var maxConcurrentChecks: Int = 1024

    public init() {}
}
