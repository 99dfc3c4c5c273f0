import ArgumentParser

struct ServiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Add, edit or delete a virtual service (ipvsadm -A, -E, -D).",
        discussion: """
            EXAMPLES:
              ipvsctl service add tcp 10.96.0.10:80 --scheduler rr
              ipvsctl service edit tcp 10.96.0.10:80 --scheduler wrr
              ipvsctl service delete tcp 10.96.0.10:80
            """,
        subcommands: [Add.self, Edit.self, Delete.self]
    )

    /// A virtual service's settings: ipvsadm's `-s -p -M --pe -b -o`.
    struct Settings: ParsableArguments {
        @Option(name: [.short, .long], help: "Scheduler (rr, wrr, lc, wlc, sh, mh, ...); default wlc.")
        var scheduler: String?
        @Option(help: "Persistence timeout in seconds.") var persistent: Int?
        @Option(help: "Persistence netmask (IPv4 mask or IPv6 prefix length).") var netmask: String?
        @Option(help: "Persistence engine, such as sip.") var pe: String?
        @Option(help: "Scheduler flags, comma-separated (sh-port, sh-fallback, mh-port, ...).")
        var schedFlags: String?
        @Flag(help: "One-packet scheduling (UDP).") var ops = false

        var ipvsadm: [String] {
            var args: [String] = []
            if let scheduler { args += ["-s", scheduler] }
            if let persistent { args += ["-p", "\(persistent)"] }
            if let netmask { args += ["-M", netmask] }
            if let pe { args += ["--pe", pe] }
            if let schedFlags { args += ["-b", schedFlags] }
            if ops { args.append("-o") }
            return args
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a virtual service (ipvsadm -A).",
            discussion: """
                EXAMPLES:
                  ipvsctl service add tcp 10.96.0.10:80 --scheduler rr
                  ipvsctl service add udp 10.96.0.10:53 -s sh --sched-flags sh-port --ops
                  ipvsctl service add tcp [fd00::10]:443 --persistent 300 --netmask 64
                  ipvsctl service add fwmark 7 --persistent 300
                """
        )
        @OptionGroup var service: ServiceSpec
        @OptionGroup var settings: Settings
        var ipvsadm: [String] { ["-A"] + service.ipvsadm + settings.ipvsadm }
        func validate() throws { try check(ipvsadm) }
        func run() throws { runIpvsadm(ipvsadm) }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a virtual service's settings (ipvsadm -E).",
            discussion: """
                Settings not given return to their defaults, as with ipvsadm -E.

                EXAMPLES:
                  ipvsctl service edit tcp 10.96.0.10:80 --scheduler wrr
                  ipvsctl service edit fwmark 7 --scheduler rr --persistent 600
                """
        )
        @OptionGroup var service: ServiceSpec
        @OptionGroup var settings: Settings
        var ipvsadm: [String] { ["-E"] + service.ipvsadm + settings.ipvsadm }
        func validate() throws { try check(ipvsadm) }
        func run() throws { runIpvsadm(ipvsadm) }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a virtual service and its real servers (ipvsadm -D).",
            discussion: """
                EXAMPLES:
                  ipvsctl service delete tcp 10.96.0.10:80
                  ipvsctl service delete fwmark 5 --ipv6
                """
        )
        @OptionGroup var service: ServiceSpec
        var ipvsadm: [String] { ["-D"] + service.ipvsadm }
        func validate() throws { try check(ipvsadm) }
        func run() throws { runIpvsadm(ipvsadm) }
    }
}
