import Foundation

/// The agent-memory run in results.md and in the bars: ipvsd's own resident memory, not the core's tables.
enum AgentMemoryFigures {
    static let groupPrefix = "agent memory "
    static let steady = "VmRSS, steady (programmed, idle)"
    static let anonymous = "  of which RssAnon (the process's own heap and stacks)"
    static let resyncRatio = "resync peak / steady"

    static func isAgentMemory(_ run: BenchRun) -> Bool {
        run.figures.contains { $0.group.hasPrefix(groupPrefix) }
    }

    static func markdown(_ run: BenchRun) -> String {
        // The generic tables under a heading that says whose memory this is.
        let tables = MarkdownTables.render(run)
        let body = tables.firstRange(of: "\n").map { tables[$0.upperBound...] } ?? tables[...]
        var text = "## ipvsd's resident memory, real kernel in the QEMU/TCG VM\n"
        text += body.replacingOccurrences(
            of: "\(run.repetitions) repetitions",
            with: "\(run.repetitions) resyncs per size"
        )
        let notes = Set(run.figures.filter { $0.group.hasPrefix(groupPrefix) }.compactMap(\.note)).sorted()
        for note in notes { text += "\(note).\n" }
        return text + "\n"
    }

    /// The group whose bars count: the issue's 10k x 10 when measured, else the largest size.
    static func barGroup(_ run: BenchRun) -> String? {
        let groups = Set(run.figures.map(\.group).filter { $0.hasPrefix(groupPrefix) })
        if groups.contains(groupPrefix + "10000x10") { return groupPrefix + "10000x10" }
        return groups.max { entries($0) < entries($1) }
    }

    /// Services x real servers of "agent memory NxM".
    private static func entries(_ group: String) -> Int {
        let parts = group.dropFirst(groupPrefix.count).split(separator: "x").compactMap { Int($0) }
        return parts.count == 2 ? parts[0] * parts[1] : 0
    }

    /// The memory bars from ipvsd's figures: steady VmRSS, and the worst resync peak over steady.
    static func bars(_ run: BenchRun) -> [Bars.Bar] {
        guard let group = barGroup(run), let steady = run.figure(group, steady),
            let ratio = run.figure(group, resyncRatio)
        else { return [] }
        let size = group.dropFirst(groupPrefix.count)
        let anonymous = run.figure(group, anonymous).map { ", of which RssAnon " + MarkdownTables.number($0.median) }
        return [
            Bars.Bar(
                bar: "ipvsd at \(size): steady RSS <= 40 MB (issue 13)",
                measured: MarkdownTables.number(steady.median) + " MB (VmRSS median\(anonymous ?? ""))",
                met: steady.median <= 40
            ),
            Bars.Bar(
                bar: "ipvsd at \(size): resync spike <= 1.2x",
                measured: MarkdownTables.number(ratio.maximum)
                    + "x (worst of \(ratio.samples.count) resyncs; VmHWM / steady VmRSS)",
                met: ratio.maximum <= 1.2
            ),
        ]
    }
}
