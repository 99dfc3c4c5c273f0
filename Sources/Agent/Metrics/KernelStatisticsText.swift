import IPVS

/// Per virtual server and real server traffic counters from the kernel, in Prometheus text format.
///
/// Rendered at scrape time from one read of the owned services, so the numbers are the kernel's own
/// (64-bit, folded every 2 s by the kernel) rather than a copy that could drift.
enum KernelStatisticsText {
    static func render(
        services: [(ObservedVirtualServer, origin: String, servers: [ObservedRealServer])]
    ) -> String {
        var text = ""
        let families: [(String, String, (Statistics) -> UInt64)] = [
            ("connections", "Connections scheduled", { $0.connections }),
            ("packets_in", "Packets from clients", { $0.incomingPackets }),
            ("packets_out", "Packets to clients", { $0.outgoingPackets }),
            ("bytes_in", "Bytes from clients", { $0.incomingBytes }),
            ("bytes_out", "Bytes to clients", { $0.outgoingBytes }),
        ]
        for (name, help, value) in families {
            text += "# HELP ipvsd_virtual_server_\(name)_total \(help) by the virtual server.\n"
            text += "# TYPE ipvsd_virtual_server_\(name)_total counter\n"
            for (service, origin, _) in services {
                let labels =
                    "virtual_server=\"\(escape(service.virtualServer.id.description))\",service=\"\(escape(origin))\""
                text += "ipvsd_virtual_server_\(name)_total{\(labels)} \(value(service.statistics))\n"
            }
            text += "# HELP ipvsd_real_server_\(name)_total \(help) by the real server.\n"
            text += "# TYPE ipvsd_real_server_\(name)_total counter\n"
            for (service, _, servers) in services {
                for server in servers {
                    text +=
                        "ipvsd_real_server_\(name)_total{\(labels(service, server))} \(value(server.statistics))\n"
                }
            }
        }
        for (name, help, value) in [
            ("active", "Active (established) connections", { (s: ObservedRealServer) in s.activeConnections }),
            ("inactive", "Inactive connections", { (s: ObservedRealServer) in s.inactiveConnections }),
        ] {
            text += "# HELP ipvsd_real_server_\(name)_connections \(help) of the real server.\n"
            text += "# TYPE ipvsd_real_server_\(name)_connections gauge\n"
            for (service, _, servers) in services {
                for server in servers {
                    text += "ipvsd_real_server_\(name)_connections{\(labels(service, server))} \(value(server))\n"
                }
            }
        }
        return text
    }

    private static func labels(_ service: ObservedVirtualServer, _ server: ObservedRealServer) -> String {
        "virtual_server=\"\(escape(service.virtualServer.id.description))\",real_server=\"\(escape(server.realServer.id.description))\""
    }

    private static func escape(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }
}
