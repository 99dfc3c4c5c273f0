/// The issue's bars, each computed from per-repetition ratios of the same run.
struct Bars {
    struct Bar {
        var bar: String
        var measured: String
        var met: Bool?
    }

    var bars: [Bar] = []

    init(runs: [BenchRun]) {
        let kernel = runs.first { $0.environment == "vm" }
        let native = runs.first { $0.environment == "native" && $0.figures.contains { $0.group.hasPrefix("core") } }
        let memory = runs.first { $0.figures.contains { $0.group.hasPrefix("memory") } }
        if let kernel { addKernelBars(kernel) }
        let perCore = "checks per CPU-second of the prober thread"
        if let native, let health = native.figures.first(where: { $0.name == "\(perCore), checker thread" }) {
            var measured = "\(Int(health.median)) checks per CPU-second of the checker thread (median)"
            if let before = native.figures.first(where: { $0.name.hasPrefix("\(perCore), SwiftNIO") }) {
                let ratio = IPVSBenchStats.median(IPVSBenchStats.ratios(health.samples, before.samples))
                measured += "; \(MarkdownTables.number(ratio))x SwiftNIO's bootstrap per check in the same run"
            }
            bars.append(Bar(bar: ">= 50,000 TCP checks/s/core", measured: measured, met: health.median >= 50_000))
        }
        if let native {
            for name in [
                "desired lookup by service ID, allocations per lookup",
                "real server lookup (service, then server), allocations per lookup",
            ] {
                guard let figure = native.figures.first(where: { $0.name == name }) else { continue }
                bars.append(
                    Bar(
                        bar:
                            "table lookup with no allocation: \(name.replacingOccurrences(of: ", allocations per lookup", with: ""))",
                        measured: MarkdownTables.number(figure.maximum) + " allocations per lookup",
                        met: figure.maximum == 0
                    )
                )
            }
        }
        // The agent's own figures decide the memory bars; the core's tables in a bench process stay as a
        // secondary row.
        if let agent = runs.first(where: AgentMemoryFigures.isAgentMemory) {
            bars += AgentMemoryFigures.bars(agent)
        }
        if let memory {
            let steady = memory.figures.first { $0.name.hasPrefix("VmRSS, steady") }?.median ?? 0
            let spike = memory.figures.first { $0.name == "peak / steady" }?.median ?? 0
            let core = "core's tables in a bench process"
            bars.append(
                Bar(
                    bar: "\(core): steady RSS < 64 MB",
                    measured: MarkdownTables.number(steady) + " MB",
                    met: steady < 64
                )
            )
            bars.append(
                Bar(
                    bar: "\(core): resync spike <= 1.2x",
                    measured: MarkdownTables.number(spike) + "x",
                    met: spike <= 1.2
                )
            )
        }
    }

    private mutating func addKernelBars(_ run: BenchRun) {
        let programs = run.figures.filter { $0.group.hasPrefix("program") }.map(\.group)
        for group in Set(programs).sorted() {
            let size = group.dropFirst("program ".count)
            guard let floor = run.figure(group, "kernel floor (pre-encoded batches)") else { continue }
            for ours in ["IPVS library bulk apply", "agent path (setDesired+plan+apply+record)"] {
                guard let figure = run.figure(group, ours) else { continue }
                ratio("\(size): \(ours) within 1.15x of the floor", figure, floor, limit: 1.15, below: true)
                if let peer = run.figure(group, "ipvsadm -R") {
                    ratio("\(size): \(ours) faster than ipvsadm -R", peer, figure, limit: 1, below: false)
                }
                if let peer = run.figure(group, "keepalived (config load)") {
                    ratio("\(size): \(ours) >= 10x faster than keepalived", peer, figure, limit: 10, below: false)
                }
            }
        }
        for group in Set(run.figures.map(\.group)).sorted() where group.hasPrefix("one change") {
            if let p50 = run.figure(group, "latency p50, delta (updateDesired)"),
                let full = run.figure(group, "full table read (kube-proxy's per-sync cost)")
            {
                ratio(
                    "\(group.dropFirst(11)): one change >= 100x faster than a full read",
                    full,
                    p50,
                    limit: 100,
                    below: false
                )
            }
            for name in ["operations per change (must be 1)", "kernel reads per change (must be 0)"] {
                guard let figure = run.figure(group, name) else { continue }
                let want: Double = name.contains("be 1") ? 1 : 0
                bars.append(
                    Bar(
                        bar: "\(group.dropFirst(11)): \(name)",
                        measured: MarkdownTables.number(figure.maximum) + " (max)",
                        met: figure.maximum == want
                    )
                )
            }
        }
        for group in Set(run.figures.map(\.group)).sorted() where group.hasPrefix("read ") {
            if let ours = run.figure(group, "IPVS library (services + servers of each)"),
                let peer = run.figure(group, "ipvsadm -Sn")
            {
                ratio("\(group): whole table no slower than ipvsadm -Sn", ours, peer, limit: 1, below: true)
            }
        }
        for figure in run.figures where figure.name == "operations planned (must be 0)" {
            bars.append(
                Bar(
                    bar: "\(figure.group): no-change resync plans 0 operations",
                    measured: MarkdownTables.number(figure.maximum) + " (max)",
                    met: figure.maximum == 0
                )
            )
        }
    }

    /// `numerator / denominator` per repetition; met when the median is below (or at least) `limit`.
    private mutating func ratio(_ bar: String, _ numerator: Figure, _ denominator: Figure, limit: Double, below: Bool) {
        let ratios = IPVSBenchStats.ratios(numerator.samples, denominator.samples)
        guard !ratios.isEmpty else { return }
        let median = IPVSBenchStats.median(ratios)
        let spread =
            "\(MarkdownTables.number(median))x (\(MarkdownTables.number(ratios.min()!))-\(MarkdownTables.number(ratios.max()!)))"
        bars.append(Bar(bar: bar, measured: spread, met: below ? median <= limit : median >= limit))
    }

    var markdown: String {
        guard !bars.isEmpty else { return "" }
        var text = "## Bars\n\n| bar | measured (median, min-max of repetitions) | result |\n|---|---|---|\n"
        for bar in bars {
            text += "| \(bar.bar) | \(bar.measured) | \(bar.met.map { $0 ? "met" : "MISSED" } ?? "n/a") |\n"
        }
        return text
    }
}
