import ArgumentParser

/// The root of the subcommand syntax; ipvsadm's syntax is dispatched before it, in main.swift.
struct IPVSCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipvsctl",
        abstract: "Administer Linux IPVS; ipvsadm-compatible, with readable subcommands.",
        discussion: """
            Every ipvsadm command line works as is (ipvsctl -A -t 10.96.0.10:80 -s rr, \
            ipvsctl -Ln, ...); ipvsctl -h prints ipvsadm's option summary. See docs/ipvsctl.md.

            EXAMPLES:
              ipvsctl service add tcp 10.96.0.10:80 --scheduler rr
              ipvsctl server add tcp 10.96.0.10:80 10.244.1.5:8080 --forwarding nat
              ipvsctl list --stats
              ipvsctl save > rules && ipvsctl diff rules && ipvsctl apply rules
            """,
        subcommands: [
            ListCommand.self, ServiceCommand.self, ServerCommand.self, ZeroCommand.self, FlushCommand.self,
            SaveCommand.self, RestoreCommand.self, DiffCommand.self, ApplyCommand.self, TimeoutCommand.self,
            DaemonCommand.self, AgentCommand.self, ExplainCommand.self,
        ]
    )
}
