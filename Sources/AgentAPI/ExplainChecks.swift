/// One verdict of `ipvsctl explain`.
public struct ExplainCheck: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case ok = "OK"
        case warn = "WARN"
        case fail = "FAIL"
    }

    /// What was checked: `service`, `cluster-ip`, `endpoints`, `health`, `kernel`, `vip`, `sysctl`, `module`,
    /// `sync-errors`, `traffic`, `manifests`, `dns`.
    public var check: String
    public var status: Status
    public var message: String
    /// What to do about it; nil when nothing needs doing.
    public var fix: String?

    public init(_ check: String, _ status: Status, _ message: String, fix: String? = nil) {
        self.check = check
        self.status = status
        self.message = message
        self.fix = fix
    }
}

/// The checklist of a Service that does not answer, in the order one debugs it: is the Service known, does it
/// have a cluster IP, does it have endpoints (an empty list, because the selector matches no running Pod, is
/// the most common cause), are they healthy, is each port in the kernel as desired, is the VIP bound, are the
/// sysctls and modules there, did a sync fail, is traffic arriving. Facts in, verdicts out; no I/O.
public enum ExplainChecks {
    public static func run(_ facts: ExplainFacts) -> [ExplainCheck] {
        var checks: [ExplainCheck] = []
        if let first = facts.manifestErrors.first {
            checks.append(
                ExplainCheck(
                    "manifests",
                    .warn,
                    "the last manifest load failed (\(facts.manifestErrors.count) errors, first: \(first)); "
                        + "the agent serves the last good state",
                    fix: "fix the manifests (ipvsctl agent status lists the errors)"
                )
            )
        }
        guard let service = facts.service else {
            checks.append(
                ExplainCheck(
                    "service",
                    .fail,
                    "no Service \(facts.target) in the agent's desired state (\(facts.knownServices) Services loaded)",
                    fix: "check the spelling (NAMESPACE/NAME, or a ClusterIP:PORT the agent programs) and that the "
                        + "Service's manifest is under the agent's manifests path; ipvsctl agent services lists them"
                )
            )
            return checks
        }
        checks.append(ExplainCheck("service", .ok, "\(service) is in the agent's desired state"))
        if facts.headless {
            checks += headless(facts, service: service)
            return checks
        }
        checks += clusterIP(facts, service: service)
        for port in facts.ports {
            checks.append(endpoints(port, service: service))
            if let health = health(port) { checks.append(health) }
            checks.append(kernel(port))
        }
        if facts.portsOmitted > 0 {
            checks.append(
                ExplainCheck(
                    "ports",
                    .warn,
                    "\(facts.portsOmitted) more virtual servers not checked (at most \(ExplainFacts.maxPortsShown) are)",
                    fix: "ipvsctl explain ADDRESS:PORT checks the Service too; ipvsctl agent services lists them all"
                )
            )
        }
        checks += vips(facts)
        checks += sysctls(facts.sysctls)
        checks += modules(facts.modules)
        checks.append(syncErrors(facts.syncErrors))
        for port in facts.ports {
            if let traffic = traffic(port, seconds: facts.secondsBetweenReads) { checks.append(traffic) }
        }
        return checks
    }

    private static func headless(_ facts: ExplainFacts, service: String) -> [ExplainCheck] {
        var checks = [
            ExplainCheck(
                "cluster-ip",
                .ok,
                "headless (clusterIP: None): no virtual server by design; clients connect to the endpoints "
                    + "directly, finding them through DNS"
            )
        ]
        if facts.headlessAddresses == 0 {
            checks.append(
                ExplainCheck(
                    "endpoints",
                    .fail,
                    "no ready endpoints, so its DNS name has no address",
                    fix: noEndpointsFix(service)
                )
            )
        } else {
            checks.append(ExplainCheck("endpoints", .ok, "\(facts.headlessAddresses) ready endpoint addresses"))
        }
        if let name = facts.dnsName {
            checks.append(ExplainCheck("dns", .ok, "\(name) resolves to the ready endpoints"))
        } else {
            checks.append(
                ExplainCheck(
                    "dns",
                    .warn,
                    "ipvsd serves no DNS, so clients have no way to find a headless Service's endpoints",
                    fix: "configure dns: {listen: ADDRESS:53, domain: cluster.local} in ipvsd's config, "
                        + "or give the Service a cluster IP"
                )
            )
        }
        return checks
    }

    private static func clusterIP(_ facts: ExplainFacts, service: String) -> [ExplainCheck] {
        var checks: [ExplainCheck] = []
        if facts.clusterIPs.isEmpty {
            checks.append(
                ExplainCheck(
                    "cluster-ip",
                    .fail,
                    "no cluster IP",
                    fix: "set spec.clusterIP, or serviceCIDRs in ipvsd's config so one is allocated"
                )
            )
        } else {
            checks.append(ExplainCheck("cluster-ip", .ok, "cluster IP \(facts.clusterIPs.joined(separator: ", "))"))
        }
        if facts.ports.isEmpty {
            checks.append(
                ExplainCheck(
                    "ports",
                    .fail,
                    "no ports, so no virtual server",
                    fix: "add spec.ports to the Service"
                )
            )
        }
        if let name = facts.dnsName {
            checks.append(ExplainCheck("dns", .ok, "\(name) resolves to the cluster IP"))
        }
        return checks
    }

    static func noEndpointsFix(_ service: String) -> String {
        let (namespace, name) = split(service)
        return "the selector matches no running Pod: kubectl get pods -n \(namespace) -l <spec.selector> "
            + "should list Running Pods; check their labels against spec.selector and that an EndpointSlice "
            + "carries the label kubernetes.io/service-name=\(name)"
    }

    private static func endpoints(_ port: ExplainPort, service: String) -> ExplainCheck {
        let c = port.counts
        let id = port.virtualServer
        if c.total == 0 {
            return ExplainCheck("endpoints", .fail, "\(id): no endpoints", fix: noEndpointsFix(service))
        }
        let summary = "\(c.total) endpoints: \(c.ready) ready, \(c.serving) serving, \(c.terminating) terminating"
        if c.ready == 0 && c.serving > 0 {
            return ExplainCheck(
                "endpoints",
                .warn,
                "\(id): \(summary); terminating endpoints stand in while none is ready",
                fix: "wait for the new Pods to become ready (kubectl get pods -n \(split(service).namespace))"
            )
        }
        if c.ready == 0 {
            return ExplainCheck(
                "endpoints",
                .fail,
                "\(id): \(summary); none can take traffic",
                fix: "the Pods fail their readiness probes: kubectl describe pod -n \(split(service).namespace) ..."
            )
        }
        return ExplainCheck("endpoints", .ok, "\(id): \(summary)")
    }

    private static func health(_ port: ExplainPort) -> ExplainCheck? {
        let checked = port.endpoints.filter { !$0.health.isEmpty }
        guard !checked.isEmpty else { return nil }
        let down = checked.filter { $0.health == "down" }
        let detail = down.prefix(3).map { "\($0.address) (\($0.lastProbe.isEmpty ? "no result" : $0.lastProbe))" }
            .joined(separator: ", ")
        if down.isEmpty {
            return ExplainCheck("health", .ok, "\(port.virtualServer): \(checked.count) checked endpoints are up")
        }
        let fix = "check the backend answers its health check from this host (the last probe error says why)"
        if down.count == checked.count {
            return ExplainCheck(
                "health",
                .fail,
                "\(port.virtualServer): all \(checked.count) checked endpoints are down: \(detail)",
                fix: fix
            )
        }
        return ExplainCheck(
            "health",
            .warn,
            "\(port.virtualServer): \(down.count) of \(checked.count) checked endpoints are down: \(detail)",
            fix: fix
        )
    }

    /// Differences between what the agent wants in the kernel for each endpoint and what the kernel holds.
    static func differences(_ port: ExplainPort) -> [String] {
        var lines: [String] = []
        for endpoint in port.endpoints {
            let kernel = endpoint.kernelWeight.map { "kernel weight \($0)" } ?? "not in the kernel"
            switch endpoint.state {
            case "serving", "pending":
                if let want = endpoint.desiredWeight, endpoint.kernelWeight != want {
                    lines.append("\(endpoint.address): want weight \(want), \(kernel)")
                }
            case "not-ready":
                if endpoint.kernelWeight != nil { lines.append("\(endpoint.address): not ready but \(kernel)") }
            case "draining", "health-failed":
                if let weight = endpoint.kernelWeight, weight != 0 {
                    lines.append("\(endpoint.address): \(endpoint.state) but kernel weight \(weight)")
                }
            default:
                break
            }
        }
        lines += port.kernelOnly.map { "\($0): in the kernel, not desired" }
        return lines
    }

    private static func kernel(_ port: ExplainPort) -> ExplainCheck {
        let id = port.virtualServer
        if port.conflict {
            return ExplainCheck(
                "kernel",
                .fail,
                "\(id) is held by a virtual server another tool created; the agent leaves it alone",
                fix: "delete the other tool's entry (ipvsctl -D ...) or change the Service's address or port"
            )
        }
        guard let kernel = port.kernel else {
            return ExplainCheck(
                "kernel",
                .fail,
                "\(id) is not in the kernel",
                fix: "see the sync errors below; ipvsctl agent sync retries at once"
            )
        }
        var lines = differences(port)
        if kernel != port.desired { lines.insert("scheduler: want \(port.desired), kernel \(kernel)", at: 0) }
        if lines.isEmpty {
            let serving = port.endpoints.count { $0.kernelWeight != nil }
            return ExplainCheck("kernel", .ok, "\(id) is programmed as desired (\(kernel), \(serving) real servers)")
        }
        return ExplainCheck(
            "kernel",
            .fail,
            "\(id) differs from desired: " + lines.prefix(5).joined(separator: "; ")
                + (lines.count > 5 ? "; and \(lines.count - 5) more" : ""),
            fix: "ipvsctl agent sync --no-reload (a full resync repairs drift); if it comes back, another tool "
                + "is changing the table"
        )
    }

    private static func vips(_ facts: ExplainFacts) -> [ExplainCheck] {
        guard let interface = facts.interface else {
            return [
                ExplainCheck(
                    "vip",
                    .ok,
                    "bindAddresses is off: the VIPs must reach this host by other means (routes, another agent)"
                )
            ]
        }
        return facts.vips.map { vip in
            switch vip.bound {
            case true?:
                return ExplainCheck("vip", .ok, "\(vip.address) is bound as a local route")
            case false?:
                return ExplainCheck(
                    "vip",
                    .fail,
                    "\(vip.address) is not bound (no local route, nor an address on \(interface)): packets to it "
                        + "never reach IPVS on this host",
                    fix:
                        "ipvsctl agent sync binds it (by hand: ip\(vip.address.contains(":") ? " -6" : "") route add local "
                        + "\(vip.address) dev lo table local proto 168)"
                )
            case nil:
                return ExplainCheck(
                    "vip",
                    .warn,
                    "cannot read the local routes, or the addresses of \(interface)",
                    fix: "ip route show table local dev lo proto 168; ip addr show dev \(interface)"
                )
            }
        }
    }

    private static func sysctls(_ sysctls: [ExplainSysctl]) -> [ExplainCheck] {
        sysctls.map { sysctl in
            let dotted = sysctl.name.replacingSlashes()
            guard let actual = sysctl.actual else {
                return ExplainCheck(
                    "sysctl",
                    .warn,
                    "\(dotted) cannot be read (\(sysctl.why))",
                    fix: "modprobe ip_vs, then sysctl \(dotted)"
                )
            }
            guard actual == sysctl.expected else {
                return ExplainCheck(
                    "sysctl",
                    .warn,
                    "\(dotted) is \(actual), want \(sysctl.expected) (\(sysctl.why))",
                    fix: "sysctl -w \(dotted)=\(sysctl.expected), or sysctls.manage: true in ipvsd's config"
                )
            }
            return ExplainCheck("sysctl", .ok, "\(dotted) = \(actual)")
        }
    }

    private static func modules(_ modules: [ExplainModule]) -> [ExplainCheck] {
        modules.map { module in
            module.loaded
                ? ExplainCheck("module", .ok, "\(module.name) is loaded")
                : ExplainCheck(
                    "module",
                    .fail,
                    "\(module.name) is not loaded (\(module.why))",
                    fix: "modprobe \(module.name)"
                )
        }
    }

    private static func syncErrors(_ errors: [String]) -> ExplainCheck {
        guard !errors.isEmpty else { return ExplainCheck("sync-errors", .ok, "no sync error mentions this Service") }
        return ExplainCheck(
            "sync-errors",
            .fail,
            "the kernel refused: " + errors.prefix(3).joined(separator: "; ")
                + (errors.count > 3 ? "; and \(errors.count - 3) more" : ""),
            fix: "read the error; ipvsd's log has each refused operation with its errno"
        )
    }

    private static func traffic(_ port: ExplainPort, seconds: Double) -> ExplainCheck? {
        guard let first = port.first, let second = port.second else { return nil }
        let connections = second.connections &- first.connections
        let packets = (second.packetsIn &- first.packetsIn) &+ (second.packetsOut &- first.packetsOut)
        let span = seconds.formatted
        if connections > 0 {
            return ExplainCheck(
                "traffic",
                .ok,
                "\(port.virtualServer): \(connections) new connections, \(packets) packets in \(span) s"
            )
        }
        if packets > 0 {
            return ExplainCheck(
                "traffic",
                .ok,
                "\(port.virtualServer): \(packets) packets on existing connections in \(span) s"
            )
        }
        return ExplainCheck(
            "traffic",
            .warn,
            "\(port.virtualServer): no packets in \(span) s (\(second.connections) connections since the "
                + "virtual server was added)",
            fix:
                "send a request from a client while explain runs (curl \(port.virtualServer.split(separator: "/").first ?? "")); "
                + "counters that move with no answer point at the backends' return route"
        )
    }

    private static func split(_ service: String) -> (namespace: String, name: String) {
        let parts = service.split(separator: "/", maxSplits: 1).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : ("default", service)
    }
}

extension String {
    fileprivate func replacingSlashes() -> String { String(map { $0 == "/" ? "." : $0 }) }
}

extension Double {
    fileprivate var formatted: String {
        let tenths = (self * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}
