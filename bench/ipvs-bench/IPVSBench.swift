import ArgumentParser

@main
struct IPVSBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipvs-bench",
        abstract: "Measure the agent and its IPVS library against the peers, as ratios from the same run.",
        discussion: """
            `kernel` needs root and a kernel with IPVS (run it in the project's VM: Tests/vm/run -- ...); \
            `detection`, `agent-memory` and `api` run ipvsd there too; `native` and `memory` need no kernel; `report` \
            turns their JSON into results.md and SVG plots. \
            bench/run does all of it. Absolute times on shared or emulated machines are noise; each figure is \
            reported with the spread of its repetitions and as a ratio to a peer measured in the same run.
            """,
        subcommands: [
            KernelBench.self, NativeBench.self, MemoryBench.self, DetectionBench.self, AgentMemoryBench.self,
            ManifestEditBench.self, APIBench.self, StandInCommand.self, ReportCommand.self,
        ]
    )
}
