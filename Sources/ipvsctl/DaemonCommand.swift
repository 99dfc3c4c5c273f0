import ArgumentParser
import IPVSAdmin

struct DaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Start, stop or list connection sync daemons (ipvsadm --start-daemon, --stop-daemon).",
        discussion: """
            EXAMPLES:
              ipvsctl daemon start master --interface eth1 --syncid 7
              ipvsctl daemon list
              ipvsctl daemon stop master
            """,
        subcommands: [Start.self, Stop.self, List.self]
    )

    enum State: String, ExpressibleByArgument, CaseIterable {
        case master, backup
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a sync daemon (ipvsadm --start-daemon).",
            discussion: """
                The interface must exist in this network namespace and, for a master, be up. The \
                kernel refuses a daemon while a service has a real server of the other address family.

                EXAMPLES:
                  ipvsctl daemon start master --interface eth1 --syncid 7
                  ipvsctl daemon start backup --interface eth1 --syncid 7
                  ipvsctl daemon start master --interface eth1 --mcast-group 239.1.1.1 \\
                      --mcast-port 8849 --mcast-ttl 2
                """
        )
        @Argument(help: "master or backup.") var state: State
        @Option(
            name: [.customLong("interface"), .customLong("mcast-interface")],
            help: "Multicast interface; default eth0."
        )
        var interface: String?
        @Option(help: "Sync ID, 0...255; default 0.") var syncid: Int?
        @Option(help: "Largest sync message payload in bytes; default from the MTU.") var syncMaxlen: Int?
        @Option(help: "Multicast group, IPv4 or IPv6; default 224.0.0.81.") var mcastGroup: String?
        @Option(help: "Multicast UDP port; default 8848.") var mcastPort: Int?
        @Option(help: "Multicast TTL, 1...255; default 1.") var mcastTtl: Int?

        var ipvsadm: [String] {
            var args = ["--start-daemon", state.rawValue]
            if let interface { args += ["--mcast-interface", interface] }
            if let syncid { args += ["--syncid", "\(syncid)"] }
            if let syncMaxlen { args += ["--sync-maxlen", "\(syncMaxlen)"] }
            if let mcastGroup { args += ["--mcast-group", mcastGroup] }
            if let mcastPort { args += ["--mcast-port", "\(mcastPort)"] }
            if let mcastTtl { args += ["--mcast-ttl", "\(mcastTtl)"] }
            return args
        }
        func validate() throws { try check(ipvsadm) }
        func run() throws { runIpvsadm(ipvsadm) }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a sync daemon (ipvsadm --stop-daemon).",
            discussion: """
                EXAMPLES:
                  ipvsctl daemon stop master
                """
        )
        @Argument(help: "master or backup.") var state: State
        func run() throws { runIpvsadm(["--stop-daemon", state.rawValue]) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List sync daemons (ipvsadm -L --daemon).",
            discussion: """
                EXAMPLES:
                  ipvsctl daemon list
                  ipvsctl daemon list --json
                """
        )
        @OptionGroup var output: OutputOptions
        func run() throws {
            guard output.isJSON else { runIpvsadm(["-L", "--daemon"]) }
            do {
                print(JSONOutput.daemons(try openKernel().daemons()), terminator: "")
            } catch {
                fail(error)
            }
        }
    }
}
