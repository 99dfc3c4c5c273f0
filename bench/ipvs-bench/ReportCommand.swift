import ArgumentParser
import Foundation

/// Merges the JSON of `kernel`, `native`, `memory`, `detection`, `agent-memory`, `agent-growth`, `manifest-edit` and
/// `kubernetes-api` into results.json, results.md and SVG plots.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write results.json, results.md and SVG plots from the bench JSON files in --out."
    )

    @Option(
        help:
            """
            Directory holding the kernel, native, memory, detection, agent-memory, agent-growth, manifest-edit and \
            kubernetes-api .json; the report goes there.
            """
    )
    var out = "bench/results"

    func run() throws {
        let directory = URL(fileURLWithPath: out)
        var runs: [BenchRun] = []
        let names = [
            "kernel", "native", "memory", "detection", "agent-memory", "agent-growth", "manifest-edit",
            "kubernetes-api",
        ]
        for name in names {
            let url = directory.appendingPathComponent("\(name).json")
            guard FileManager.default.fileExists(atPath: url.path) else {
                print("report: \(url.path) missing, skipped")
                continue
            }
            do {
                runs.append(try BenchRun.read(from: url))
            } catch {
                throw BenchError("report: \(url.path) is not a bench result: \(error)")
            }
        }
        guard !runs.isEmpty else { throw BenchError("report: no results in \(directory.path)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(runs).write(to: directory.appendingPathComponent("results.json"))
        let bars = Bars(runs: runs)
        var markdown = "# Benchmark results\n\n"
        for run in runs {
            if DetectionReport.isDetection(run) {
                markdown += DetectionReport.markdown(run)
            } else if AgentMemoryFigures.isAgentMemory(run) {
                markdown += AgentMemoryFigures.markdown(run)
            } else {
                markdown += MarkdownTables.render(run)
            }
        }
        markdown += bars.markdown
        var plots: [String] = []
        if let kernel = runs.first(where: { $0.environment == "vm" }) {
            for (file, svg) in Plots.all(kernel) {
                try svg.write(to: directory.appendingPathComponent(file), atomically: true, encoding: .utf8)
                plots.append(file)
            }
        }
        // The growth run is the agent-memory run with more than one size (bench/run: agent-growth.json).
        if let growth = runs.last(where: { AgentMemoryFigures.isAgentMemory($0) }) {
            for (file, svg) in Plots.growth(growth) {
                try svg.write(to: directory.appendingPathComponent(file), atomically: true, encoding: .utf8)
                plots.append(file)
            }
        }
        markdown += plots.isEmpty ? "" : "\n## Plots\n\n" + plots.map { "![\($0)](\($0))\n" }.joined()
        try markdown.write(to: directory.appendingPathComponent("results.md"), atomically: true, encoding: .utf8)
        print("wrote results.json, results.md and \(plots.count) plots to \(directory.path)")
    }
}

enum MarkdownTables {
    static func number(_ value: Double) -> String {
        switch abs(value) {
        case 0: "0"
        case ..<10: String(format: "%.2f", value)
        case ..<100: String(format: "%.1f", value)
        default: String(format: "%.0f", value)
        }
    }

    static func render(_ run: BenchRun) -> String {
        var text = "## \(run.environment == "vm" ? "Real kernel in the QEMU/TCG VM" : "Native, in-process")\n\n"
        text += "machine: \(run.machine); kernel \(run.kernel); \(run.date); \(run.repetitions) repetitions\n"
        var groups: [String] = []
        for figure in run.figures where !groups.contains(figure.group) { groups.append(figure.group) }
        for group in groups {
            let figures = run.figures.filter { $0.group == group }
            let baseline = baselineName(group, figures)
            text += "\n### \(group)\n\n| what | median | min | max | unit |"
            text +=
                baseline == nil
                ? "\n|---|---|---|---|---|\n"
                : " ratio to \(baseline!) (median, min-max) |\n|---|---|---|---|---|---|\n"
            for figure in figures {
                text += "| \(figure.name) | \(number(figure.median)) | \(number(figure.minimum)) "
                text += "| \(number(figure.maximum)) | \(figure.unit) |"
                if let baseline, let base = figures.first(where: { $0.name == baseline }) {
                    let ratios = IPVSBenchStats.ratios(figure.samples, base.samples)
                    text += " \(number(IPVSBenchStats.median(ratios)))x (\(number(ratios.min() ?? 0))-"
                    text += "\(number(ratios.max() ?? 0))) |"
                }
                text += "\n"
            }
        }
        return text + "\n"
    }

    /// Programming is compared with the kernel's floor, reading with ipvsadm: time / baseline's time.
    static func baselineName(_ group: String, _ figures: [Figure]) -> String? {
        let name: String? =
            group.hasPrefix("program")
            ? "kernel floor (pre-encoded batches)"
            : group.hasPrefix("read") ? "ipvsadm -Sn" : nil
        return figures.contains { $0.name == name } ? name : nil
    }
}
