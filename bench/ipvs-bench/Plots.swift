import Foundation

/// Small SVG charts written as text: programming time as a ratio to the floor, per size; ipvsd's growth.
enum Plots {
    static func all(_ run: BenchRun) -> [(String, String)] {
        let groups = orderedGroups(run, prefix: "program")
        guard !groups.isEmpty else { return [] }
        var names: [String] = []
        for figure in run.figures where figure.group.hasPrefix("program") && !names.contains(figure.name) {
            names.append(figure.name)
        }
        var series: [(String, [Double?])] = []
        for name in names {
            let values = groups.map { group -> Double? in
                guard let figure = run.figure(group, name),
                    let floor = run.figure(group, "kernel floor (pre-encoded batches)")
                else { return nil }
                return IPVSBenchStats.median(IPVSBenchStats.ratios(figure.samples, floor.samples))
            }
            series.append((name, values))
        }
        let labels = groups.map { String($0.dropFirst("program ".count)) }
        return [
            (
                "programming-ratio.svg",
                bars(title: "Programming time / kernel floor (lower is better)", labels: labels, series: series)
            )
        ]
    }

    static func orderedGroups(_ run: BenchRun, prefix: String) -> [String] {
        var groups: [String] = []
        for figure in run.figures where figure.group.hasPrefix(prefix) && !groups.contains(figure.group) {
            groups.append(figure.group)
        }
        return groups
    }

    /// The growth run (`agent-memory --resyncs 0` over 1k to 100k Services): exec to ready beside the kernel's
    /// floor + one full table read, and resident memory, per size. Both on a log axis, where linear growth
    /// keeps the gap between neighbouring sizes equal to their size ratio.
    static func growth(_ run: BenchRun) -> [(String, String)] {
        let groups = orderedGroups(run, prefix: AgentMemoryFigures.groupPrefix)
        guard groups.count > 1 else { return [] }
        let labels = groups.map { String($0.dropFirst(AgentMemoryFigures.groupPrefix.count)) }
        func medians(_ name: String, scale: Double = 1) -> [Double?] {
            groups.map { group in run.figure(group, name).map { $0.median * scale } }
        }
        let floorPlusRead = groups.map { group -> Double? in
            guard let floor = run.figure(group, "kernel floor (pre-encoded batches)"),
                let read = run.figure(group, "full table read (IPVS library: services + servers of each)")
            else { return nil }
            return (floor.median + read.median) / 1000
        }
        let time = bars(
            title: "ipvsd exec to ready from manifests, by size (seconds, log axis)",
            labels: labels,
            series: [
                ("ipvsd exec to ready", medians("start to ready, kernel checked")),
                ("kernel floor + one full table read", floorPlusRead),
            ],
            unit: " s"
        )
        let memory = bars(
            title: "ipvsd resident memory when programmed, by size (MB, log axis)",
            labels: labels,
            series: [
                ("VmRSS", medians(AgentMemoryFigures.steady)),
                ("RssAnon (own heap and stacks)", medians(AgentMemoryFigures.anonymous)),
            ],
            unit: " MB"
        )
        return [("growth-time.svg", time), ("growth-memory.svg", memory)]
    }

    /// A grouped bar chart on a logarithmic axis (ratios span 1x to 100x), one colour per series; `unit`
    /// follows each tick's number.
    static func bars(title: String, labels: [String], series: [(String, [Double?])], unit: String = "x") -> String {
        let colours = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1"]
        let plot = (x: 60.0, y: 40.0, width: 520.0, height: 280.0)
        let values = series.flatMap { $0.1.compactMap { $0 } }.filter { $0 > 0 }
        let ticks = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]
        let low = ticks.last { $0 < (values.min() ?? 1) } ?? 0.5
        let high = ticks.first { $0 >= (values.max() ?? 1) } ?? 10000
        let span = max(log10(high) - log10(low), 0.1)
        func height(_ value: Double) -> Double {
            plot.height * (log10(max(value, low)) - log10(low)) / span
        }
        let slot = plot.width / Double(max(labels.count, 1))
        let bar = slot * 0.8 / Double(max(series.count, 1))
        // The legend sits right of the plot; the picture widens to its longest name (12 px sans-serif is at most
        // about 7.5 px a character) so no name is cut at the edge, and grows down when there are many series.
        let legendX = plot.x + plot.width + 20
        let longest = series.map { $0.0.count }.max() ?? 0
        let width = Int(legendX + 18 + 7.5 * Double(longest) + 10)
        let heightPx = Int(max(380, plot.y + 16 * Double(series.count) + 20))
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(heightPx)" font-family="sans-serif" \
            font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(plot.x)" y="20" font-size="14">\(title)</text>

            """
        for tick in ticks where tick >= low && tick <= high {
            let y = plot.y + plot.height - height(tick)
            svg += "<line x1=\"\(plot.x)\" y1=\"\(y)\" x2=\"\(plot.x + plot.width)\" y2=\"\(y)\" stroke=\"#ddd\"/>"
            svg +=
                "<text x=\"\(plot.x - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(MarkdownTables.number(tick))\(unit)</text>\n"
        }
        for (index, label) in labels.enumerated() {
            let x = plot.x + slot * Double(index) + slot / 2
            svg += "<text x=\"\(x)\" y=\"\(plot.y + plot.height + 18)\" text-anchor=\"middle\">\(label)</text>\n"
        }
        for (number, (name, values)) in series.enumerated() {
            let colour = colours[number % colours.count]
            for (index, value) in values.enumerated() {
                guard let value else { continue }
                let h = height(value)
                let x = plot.x + slot * Double(index) + slot * 0.1 + bar * Double(number)
                svg +=
                    "<rect x=\"\(x)\" y=\"\(plot.y + plot.height - h)\" width=\"\(bar)\" height=\"\(h)\" fill=\"\(colour)\">"
                svg += "<title>\(name): \(MarkdownTables.number(value))\(unit)</title></rect>\n"
            }
            let y = plot.y + 16 * Double(number)
            svg += "<rect x=\"\(legendX)\" y=\"\(y)\" width=\"12\" height=\"12\" fill=\"\(colour)\"/>"
            svg += "<text x=\"\(legendX + 18)\" y=\"\(y + 10)\">\(name)</text>\n"
        }
        return svg + "</svg>\n"
    }
}
