import IPVS

/// ipvsctl's JSON output (`--output json`); the schema is in docs/ipvsctl.md. Keys are stable and sorted as
/// written here; numbers are JSON integers.
public enum JSONOutput {
    private static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if scalar.value < 0x20 {
                    out +=
                        "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func object(_ fields: [(String, String)], indent: String) -> String {
        let inner = indent + "  "
        return "{\n" + fields.map { "\(inner)\(string($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n\(indent)}"
    }

    private static func array(_ items: [String], indent: String) -> String {
        items.isEmpty ? "[]" : "[\n" + items.map { indent + "  " + $0 }.joined(separator: ",\n") + "\n\(indent)]"
    }

    private static func statistics(_ s: Statistics, indent: String) -> String {
        object(
            [
                ("connections", "\(s.connections)"), ("incomingPackets", "\(s.incomingPackets)"),
                ("outgoingPackets", "\(s.outgoingPackets)"), ("incomingBytes", "\(s.incomingBytes)"),
                ("outgoingBytes", "\(s.outgoingBytes)"), ("connectionRate", "\(s.connectionRate)"),
                ("incomingPacketRate", "\(s.incomingPacketRate)"), ("outgoingPacketRate", "\(s.outgoingPacketRate)"),
                ("incomingByteRate", "\(s.incomingByteRate)"), ("outgoingByteRate", "\(s.outgoingByteRate)"),
            ],
            indent: indent
        )
    }

    static func forwardingName(_ method: ForwardingMethod) -> String {
        switch method {
        case .masquerade: "masquerade"
        case .tunnel: "tunnel"
        case .directRouting: "route"
        case .local: "local"
        case .bypass: "bypass"
        default: "unknown"
        }
    }

    /// The services with their real servers.
    /// - Parameter sorted: sort as `-L` sorts them; false keeps the kernel's order, like `--nosort`.
    public static func services(_ entries: [ServiceEntry], info: IPVSInfo?, sorted: Bool = true) -> String {
        let items = (sorted ? IPVSSort.services(entries) : entries).map { entry -> String in
            let vs = entry.service.virtualServer
            var fields: [(String, String)] = []
            switch vs.id {
            case .service(let proto, let address, let port):
                fields += [
                    ("protocol", string(proto.description)), ("address", string(address.description)),
                    ("port", "\(port)"),
                ]
            case .firewallMark(let mark, _):
                fields += [("fwmark", "\(mark)")]
            }
            fields += [
                ("family", string(vs.id.family.description)), ("scheduler", string(vs.scheduler.rawValue)),
                ("persistent", vs.isPersistent ? "true" : "false"), ("timeout", "\(vs.timeout)"),
                (
                    "netmask",
                    vs.id.family == .inet ? string(IPAddress(ipv4: vs.netmask).description) : "\(vs.netmask)"
                ),
                ("persistenceEngine", vs.persistenceEngine.map(string) ?? "null"),
                ("onePacket", vs.flags.contains(.onePacket) ? "true" : "false"),
                ("schedulerFlags", array(schedFlagNames(vs).map(string), indent: "      ")),
                ("statistics", statistics(entry.service.statistics, indent: "      ")),
            ]
            let servers = (sorted ? IPVSSort.servers(entry.servers) : entry.servers).map { observed -> String in
                let rs = observed.realServer
                var f: [(String, String)] = [
                    ("address", string(rs.address.description)), ("port", "\(rs.port)"),
                    ("forwarding", string(forwardingName(rs.forwarding))), ("weight", "\(rs.weight)"),
                    ("upperThreshold", "\(rs.upperThreshold)"), ("lowerThreshold", "\(rs.lowerThreshold)"),
                    ("activeConnections", "\(observed.activeConnections)"),
                    ("inactiveConnections", "\(observed.inactiveConnections)"),
                    ("persistentConnections", "\(observed.persistentConnections)"),
                ]
                if rs.forwarding == .tunnel {
                    f += [
                        ("tunnelType", string(rs.tunnelType.description)), ("tunnelPort", "\(rs.tunnelPort)"),
                        (
                            "tunnelChecksum",
                            string(
                                rs.tunnelFlags.contains(.remoteChecksum)
                                    ? "remote" : rs.tunnelFlags.contains(.checksum) ? "checksum" : "none"
                            )
                        ),
                    ]
                }
                f.append(("statistics", statistics(observed.statistics, indent: "          ")))
                return object(f, indent: "        ")
            }
            fields.append(("servers", array(servers, indent: "      ")))
            return object(fields, indent: "    ")
        }
        var top: [(String, String)] = []
        if let info {
            top.append(("version", string(info.version)))
            top.append(("connectionTableSize", "\(info.connectionTableSize)"))
        }
        top.append(("services", array(items, indent: "  ")))
        return object(top, indent: "") + "\n"
    }

    static func schedFlagNames(_ vs: VirtualServer) -> [String] {
        var names: [String] = []
        let prefix = vs.scheduler.rawValue == "sh" || vs.scheduler.rawValue == "mh" ? vs.scheduler.rawValue : nil
        if vs.flags.contains(.scheduler1) { names.append(prefix.map { "\($0)-fallback" } ?? "flag-1") }
        if vs.flags.contains(.scheduler2) { names.append(prefix.map { "\($0)-port" } ?? "flag-2") }
        if vs.flags.contains(.scheduler3) { names.append("flag-3") }
        return names
    }

    public static func timeouts(_ t: Timeouts) -> String {
        object([("tcp", "\(t.tcp)"), ("tcpFin", "\(t.tcpFin)"), ("udp", "\(t.udp)")], indent: "") + "\n"
    }

    public static func daemons(_ daemons: [SyncDaemon]) -> String {
        let items = daemons.map { d in
            object(
                [
                    ("state", string(d.state.description)), ("interface", string(d.interface)),
                    ("syncID", "\(d.syncID)"), ("maximumLength", d.maximumLength.map { "\($0)" } ?? "null"),
                    ("multicastGroup", d.multicastGroup.map { string($0.description) } ?? "null"),
                    ("multicastPort", d.multicastPort.map { "\($0)" } ?? "null"),
                    ("multicastTTL", d.multicastTTL.map { "\($0)" } ?? "null"),
                ],
                indent: "    "
            )
        }
        return object([("daemons", array(items, indent: "  "))], indent: "") + "\n"
    }
}
