/// The detection bench's figures: latencies in ms and as ratios to the configured bounds, which carry
/// across machines where the absolute times (an emulated VM) do not.
struct DetectionFigures {
    static let groupPrefix = "health detection"

    let services: Int
    let servers: Int
    let health: DetectionHealth
    let pollMs: Int

    var group: String { "\(Self.groupPrefix), \(services)x\(servers) listeners, ipvsd (\(health.summary))" }

    func add(detection: [Double], recovery: [Double], to run: inout BenchRun) {
        let detectionBound = health.detectionBound.milliseconds
        let recoveryBound = health.recoveryBound.milliseconds
        let pipeline = "ipvsd's debounce and sync included; kernel read every \(pollMs) ms"
        run.add(group, "detection: listener closed -> real server out of IPVS", "ms", detection, note: pipeline)
        run.add(
            group,
            "detection / bound (interval x fall + timeout = \(MarkdownTables.number(detectionBound)) ms)",
            "x",
            detection.map { $0 / detectionBound }
        )
        run.add(group, "recovery: listener reopened -> real server back in IPVS", "ms", recovery, note: pipeline)
        run.add(
            group,
            "recovery / bound (interval x rise = \(MarkdownTables.number(recoveryBound)) ms)",
            "x",
            recovery.map { $0 / recoveryBound }
        )
    }
}

/// The detection run's section of results.md: the distribution (p50, p90, p99, max), not only the median.
enum DetectionReport {
    static func isDetection(_ run: BenchRun) -> Bool {
        run.figures.contains { $0.group.hasPrefix(DetectionFigures.groupPrefix) }
    }

    static func markdown(_ run: BenchRun) -> String {
        var text = "## Health detection latency, real kernel in the QEMU/TCG VM\n\n"
        text += "machine: \(run.machine); kernel \(run.kernel); \(run.date); \(run.repetitions) samples\n"
        var groups: [String] = []
        for figure in run.figures where !groups.contains(figure.group) { groups.append(figure.group) }
        for group in groups {
            text += "\n### \(group)\n\n| what | p50 | p90 | p99 | max | min | unit |\n|---|---|---|---|---|---|---|\n"
            for figure in run.figures where figure.group == group {
                let cells =
                    [0.5, 0.9, 0.99].map { IPVSBenchStats.percentile(figure.samples, $0) } + [
                        figure.maximum, figure.minimum,
                    ]
                text += "| \(figure.name) | " + cells.map(MarkdownTables.number).joined(separator: " | ")
                text += " | \(figure.unit) |\n"
            }
            let notes = Set(run.figures.filter { $0.group == group }.compactMap(\.note)).sorted()
            for note in notes { text += "\n\(note).\n" }
        }
        text += "\nWith checks at a fixed interval a failure lands uniformly within one interval, so detection is "
        text += "(fall - 1) to fall intervals plus the failed check's time, the debounce and one sync; "
        text += "p99 of fewer than 100 samples is the maximum.\n\n"
        return text
    }
}
