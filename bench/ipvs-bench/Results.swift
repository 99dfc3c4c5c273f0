import Foundation

/// One measured quantity: every repetition's sample, so the report can show the spread.
struct Figure: Codable, Sendable {
    /// What was measured, e.g. "program 10000x10".
    var group: String
    /// Who was measured, e.g. "ipvsadm -R".
    var name: String
    /// "ms", "ns/op", "MB", "checks/s", "count".
    var unit: String
    var samples: [Double]
    var note: String?

    var median: Double { IPVSBenchStats.median(samples) }
    var minimum: Double { samples.min() ?? 0 }
    var maximum: Double { samples.max() ?? 0 }
}

/// One invocation of a bench subcommand: where it ran and what it measured.
struct BenchRun: Codable, Sendable {
    /// "vm" (real kernel in the project's QEMU/TCG VM) or "native" (the host, no kernel).
    var environment: String
    var machine: String
    var kernel: String
    var date: String
    var repetitions: Int
    var figures: [Figure]
    /// Sizes whose run failed, each with its error; nil when every one finished.
    var failures: [String]?

    init(environment: String, repetitions: Int, figures: [Figure] = []) {
        self.environment = environment
        self.machine = Self.machineDescription()
        self.kernel =
            (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        self.date = ISO8601DateFormatter().string(from: Date())
        self.repetitions = repetitions
        self.figures = figures
    }

    mutating func add(_ group: String, _ name: String, _ unit: String, _ samples: [Double], note: String? = nil) {
        figures.append(Figure(group: group, name: name, unit: unit, samples: samples, note: note))
    }

    func figure(_ group: String, _ name: String) -> Figure? {
        figures.first { $0.group == group && $0.name == name }
    }

    func write(to url: URL) throws {
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        try Data(jsonText().utf8).write(to: url)
    }

    /// Writes the run to `out` (a path, or "-" for standard output), then fails naming the sizes that failed,
    /// if any: the figures of the others are kept either way.
    func emit(to out: String) throws {
        if out == "-" { print(try jsonText()) } else { try write(to: URL(fileURLWithPath: out)) }
        if let failures { throw BenchError("sizes that failed: \(failures.joined(separator: "; "))") }
    }

    func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    static func read(from url: URL) throws -> BenchRun {
        try JSONDecoder().decode(BenchRun.self, from: Data(contentsOf: url))
    }

    /// CPU model and count from /proc/cpuinfo: the VM reports QEMU's emulated CPU.
    static func machineDescription() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let lines = info.split(separator: "\n")
        let model = lines.first { $0.hasPrefix("model name") }?.split(separator: ":", maxSplits: 1).last
        let count = lines.filter { $0.hasPrefix("processor") }.count
        let memory = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8))?
            .split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first
        let gib = memory.flatMap { Double($0) }.map { String(format: "%.1f GiB", $0 / 1_048_576) } ?? "?"
        return "\(count) x \(model.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"), \(gib)"
    }
}

enum IPVSBenchStats {
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The value below which `fraction` of the samples fall (nearest rank).
    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// Per-repetition ratios `numerator[i] / denominator[i]`: both were measured in the same repetition.
    static func ratios(_ numerator: [Double], _ denominator: [Double]) -> [Double] {
        zip(numerator, denominator).compactMap { $1 > 0 ? $0 / $1 : nil }
    }
}

/// Progress goes to standard error, so standard output can carry the JSON out of the VM.
func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
