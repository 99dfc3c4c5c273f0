import ArgumentParser
import Foundation

/// The `api` bench's stand-in cluster alone, until interrupted: for timing and profiling `ipvsd check
/// --kubeconfig` (list, decode, build; nothing programmed) natively, where no kernel has IPVS.
struct StandInCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stand-in",
        abstract: "Serve the api bench's cluster (stand-in API server over TLS) and print its kubeconfig path.",
        discussion: """
            Holds SERVICES ClusterIP Services with one EndpointSlice of SERVERS ready endpoints each, as \
            `ipvs-bench api` does, until SIGINT or SIGTERM. Example: `ipvs-bench stand-in --size 10000x10` \
            then, in another shell, `time ipvsd check --kubeconfig PATH`.
            """
    )

    @Option(help: "SERVICESxSERVERS.") var size = "1000x10"

    func run() throws {
        guard let workload = try AgentMemoryBench.parse(size).first else { throw ValidationError("--size") }
        let lab = try APILab(workload: workload, watchSeconds: 300)
        lab.load()
        print(lab.kubeconfig)
        fflush(nil)
        withExtendedLifetime(lab) {
            while true { pause() }
        }
    }
}
