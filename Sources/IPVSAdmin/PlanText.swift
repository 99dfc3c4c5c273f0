import IPVS

/// Renders planned operations as ipvsadm-like lines: `+` adds, `~` updates, `-` deletes.
public enum PlanText {
    static func service(_ id: VirtualServer.ID) -> String {
        switch id {
        case .service(let p, let a, let port):
            let option = p == .tcp ? "-t" : p == .udp ? "-u" : "--sctp-service"
            return a.family == .inet6 ? "\(option) [\(a)]:\(port)" : "\(option) \(a):\(port)"
        case .firewallMark(let mark, let family): return family == .inet6 ? "-f \(mark) -6" : "-f \(mark)"
        }
    }

    static func rule(_ entry: ServiceEntry) -> [String] {
        ListPrinter(format: [.rule, .numeric], resolver: NumericResolver()).service(entry)
            .split(separator: "\n").map(String.init)
    }

    public static func render(_ operations: [IPVSOperation]) -> String {
        var out = ""
        for operation in operations {
            switch operation {
            case .addService(let vs):
                out += "+ " + rule(ServiceEntry(service: .init(virtualServer: vs), servers: []))[0] + "\n"
            case .updateService(let vs):
                out +=
                    "~ "
                    + rule(ServiceEntry(service: .init(virtualServer: vs), servers: []))[0].replacingFirst("-A", "-E")
                    + "\n"
            case .deleteService(let id): out += "- -D \(service(id))\n"
            case .addServer(let rs, let id), .updateServer(let rs, let id):
                let vs = VirtualServer(id: id)
                let line = rule(ServiceEntry(service: .init(virtualServer: vs), servers: [.init(realServer: rs)]))[1]
                if case .addServer = operation {
                    out += "+ \(line)\n"
                } else {
                    out += "~ " + line.replacingFirst("-a", "-e") + "\n"
                }
            case .deleteServer(let rs, let id): out += "- -d \(service(id)) -r \(rs)\n"
            case .setTimeouts(let t): out += "~ --set \(t.tcp) \(t.tcpFin) \(t.udp)\n"
            default: out += "  \(operation)\n"
            }
        }
        return out
    }
}

extension String {
    fileprivate func replacingFirst(_ old: String, _ new: String) -> String {
        hasPrefix(old) ? new + dropFirst(old.count) : self
    }
}
