import IPVS
import ServiceTables

/// A synthetic cluster: `services` ClusterIP-style virtual services with `servers` endpoints each.
struct Workload {
    var services: Int
    var servers: Int

    func serviceID(_ index: Int) -> VirtualServer.ID {
        .service(.tcp, IPAddress(ipv4: 0x0A60_0000 + UInt32(index)), port: 80)  // 10.96.0.0/12
    }

    func serverAddress(service: Int, server: Int) -> IPAddress {
        IPAddress(ipv4: 0x0AF4_0000 + UInt32(service * servers + server))  // 10.244.0.0/14
    }

    /// The operations that program the whole workload.
    var operations: [IPVSOperation] {
        var operations: [IPVSOperation] = []
        operations.reserveCapacity(services * (servers + 1))
        for service in 0..<services {
            let id = serviceID(service)
            operations.append(.addService(VirtualServer(id: id, scheduler: .roundRobin)))
            for server in 0..<servers {
                let rs = RealServer(
                    address: serverAddress(service: service, server: server),
                    port: 8080,
                    forwarding: .masquerade
                )
                operations.append(.addServer(rs, to: id))
            }
        }
        return operations
    }

    /// The same state as ipvsadm restore input.
    var ipvsadmRules: String {
        var lines: [String] = []
        lines.reserveCapacity(services * (servers + 1))
        for service in 0..<services {
            guard case .service(_, let vip, _) = serviceID(service) else { continue }
            lines.append("-A -t \(vip):80 -s rr")
            for server in 0..<servers {
                lines.append("-a -t \(vip):80 -r \(serverAddress(service: service, server: server)):8080 -m -w 1")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func realServer(service: Int, server: Int, weight: UInt32 = 1) -> RealServer {
        RealServer(
            address: serverAddress(service: service, server: server),
            port: 8080,
            forwarding: .masquerade,
            weight: weight
        )
    }

    /// The same cluster as the agent's desired state; `weights` overrides one endpoint's weight per service.
    func desiredState(weights: [Int: (server: Int, weight: UInt32)] = [:]) -> DesiredState {
        var services: [VirtualServer.ID: DesiredVirtualServer] = [:]
        services.reserveCapacity(self.services)
        for service in 0..<self.services {
            let id = serviceID(service)
            var endpoints: [RealServer.ID: DesiredRealServer] = [:]
            endpoints.reserveCapacity(servers)
            for server in 0..<servers {
                let weight = weights[service].flatMap { $0.server == server ? $0.weight : nil } ?? 1
                let endpoint = DesiredRealServer(
                    realServer: realServer(service: service, server: server, weight: weight)
                )
                endpoints[endpoint.id] = endpoint
            }
            services[id] = DesiredVirtualServer(
                virtualServer: VirtualServer(id: id, scheduler: .roundRobin),
                realServers: endpoints,
                origin: ServiceOrigin(namespace: "bench", name: "svc-\(service)")
            )
        }
        return DesiredState(virtualServers: services)
    }

    /// The same cluster as keepalived configuration: real servers without checkers are added at start.
    var keepalivedConfiguration: String {
        var text = "global_defs {\n    router_id ipvs_bench\n}\n"
        text.reserveCapacity(services * (servers * 48 + 120))
        for service in 0..<services {
            guard case .service(_, let vip, _) = serviceID(service) else { continue }
            text += "virtual_server \(vip) 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n"
            for server in 0..<servers {
                text +=
                    "    real_server \(serverAddress(service: service, server: server)) 8080 {\n        weight 1\n    }\n"
            }
            text += "}\n"
        }
        return text
    }
}
