/// The admin views as text tables, for `ipvsctl agent`.
public enum AgentText {
    public static func status(_ status: AgentStatus) -> String {
        var lines = [
            "ipvsd \(status.version), up \(duration(status.uptimeSeconds)), \(status.ready ? "ready" : "NOT READY")",
            "manifests: \(status.manifests)",
            "programmed: \(status.virtualServers) virtual servers, \(status.realServers) real servers"
                + (status.drainingRealServers > 0 ? " (\(status.drainingRealServers) draining)" : ""),
        ]
        if let running = status.running {
            lines.append(
                "syncing now: \(running.kind), \(running.step) for \(duration(running.stepSeconds)), "
                    + "started \(duration(running.seconds)) ago"
            )
        }
        if let loading = status.loading { lines.append(describe(loading)) }
        if let sync = status.lastSync { lines.append("last sync: \(describe(sync, uptime: status.uptimeSeconds))") }
        if let sync = status.lastFullSync {
            lines.append("last full sync: \(describe(sync, uptime: status.uptimeSeconds))")
        }
        for resource in status.kubernetes { lines.append(describe(resource)) }
        if let error = status.lastError { lines.append("last error: \(error)") }
        for refused in status.refusedOperations { lines.append("refused by the kernel: \(refused)") }
        for conflict in status.conflicts { lines.append("conflict: \(conflict) is owned by another tool; left alone") }
        if !status.manifestErrors.isEmpty {
            lines.append("manifest errors (the previous state stays programmed):")
            lines += status.manifestErrors.map { "  \($0)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `loading manifests now: full, started 14s ago, file 3 of 301 for 12s: /etc/ipvsd/manifests/big.yaml (60.0 MiB)`.
    private static func describe(_ loading: ManifestLoad) -> String {
        var line = "loading manifests now: \(loading.kind), started \(duration(loading.seconds)) ago"
        if let file = loading.file {
            line +=
                ", file \(file.index + 1) of \(file.count) for \(duration(file.seconds)): \(file.path) "
                + "(\(size(file.bytes)))"
        }
        return line
    }

    /// `512 bytes`, `12.3 KiB`, `60.0 MiB`.
    public static func size(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) bytes" }
        let (unit, scale): (String, Int64) = bytes < 1 << 20 ? ("KiB", 1 << 10) : ("MiB", 1 << 20)
        let tenths = (bytes * 10 + scale / 2) / scale
        return "\(tenths / 10).\(tenths % 10) \(unit)"
    }

    /// `kubernetes services: watching at rv-9, 2 watch restarts, 0 relists, 1 API error, 0 rejected`.
    private static func describe(_ resource: KubernetesResourceStatus) -> String {
        var line = "kubernetes \(resource.resource): \(resource.state)"
        if !resource.resourceVersion.isEmpty { line += " at \(resource.resourceVersion)" }
        line += resource.synced ? "" : " (not listed yet)"
        line +=
            ", \(resource.watchRestarts) watch restarts, \(resource.relists) relists, \(resource.apiErrors) API errors"
        line += ", \(resource.rejectedObjects) rejected"
        if let error = resource.lastError { line += "; last error: \(error)" }
        return line
    }

    private static func describe(_ sync: SyncReport, uptime: Double) -> String {
        let ago = duration(max(0, uptime - sync.atSeconds))
        let took = String(format3(sync.durationSeconds * 1000))
        return "\(sync.kind), \(ago) ago, \(took) ms, \(sync.operations) operations, \(sync.failures) failed"
    }

    /// One block per virtual server, one row per real server.
    public static func services(_ services: [ServiceView]) -> String {
        var text = ""
        for service in services {
            var head = "\(service.virtualServer)"
            if !service.origin.isEmpty { head += "  \(service.origin)" }
            if service.conflict {
                head += "  CONFLICT: owned by another tool"
            } else if service.desired.isEmpty {
                head += "  (no longer desired)"
            } else if service.programmed.isEmpty {
                head += "  desired \(service.desired), not programmed"
            } else if service.programmed != service.desired {
                head += "  desired \(service.desired), programmed \(service.programmed)"
            } else {
                head += "  \(service.desired)"
            }
            text += head + "\n"
            let rows = service.realServers.map { server in
                [
                    "  -> " + server.address, server.state,
                    "\(server.desiredWeight.map(String.init) ?? "-")/\(server.programmedWeight.map(String.init) ?? "-")",
                    server.health.isEmpty ? "-" : server.health,
                    server.conditions.isEmpty ? "-" : server.conditions,
                    server.drainingSeconds.map { "draining \(duration($0))" } ?? "",
                    server.target,
                ]
            }
            text += table(header: ["  -> RealServer", "State", "Weight", "Health", "Conditions", "", "Target"], rows)
        }
        return text
    }

    public static func health(_ targets: [HealthView]) -> String {
        let rows = targets.map { target in
            [
                target.target, target.state, target.lastResult, duration(target.sinceSeconds),
                "\(target.consecutive)", target.usedBy.joined(separator: ", "),
            ]
        }
        return table(header: ["Target", "State", "Last result", "Since", "Count", "Used by"], rows)
    }

    /// Left-aligned columns two spaces apart, trailing spaces trimmed.
    static func table(header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return all.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                line += cell
                if index < row.count - 1 { line += String(repeating: " ", count: widths[index] - cell.count + 2) }
            }
            while line.last == " " { line.removeLast() }
            return line + "\n"
        }.joined()
    }

    /// `42s`, `3m05s`, `2h01m`.
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.down))
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(pad(total % 60))s" }
        return "\(total / 3600)h\(pad(total / 60 % 60))m"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// Three significant decimals without Foundation's formatting.
    private static func format3(_ value: Double) -> String {
        let scaled = Int((value * 1000).rounded())
        let whole = scaled / 1000
        let fraction = scaled % 1000
        return "\(whole).\(fraction < 10 ? "00" : fraction < 100 ? "0" : "")\(fraction)"
    }
}
