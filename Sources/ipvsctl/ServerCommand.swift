import ArgumentParser

struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Add, edit or delete a real server (ipvsadm -a, -e, -d).",
        discussion: """
            EXAMPLES:
              ipvsctl server add tcp 10.96.0.10:80 10.244.1.5:8080 --forwarding nat
              ipvsctl server edit tcp 10.96.0.10:80 10.244.1.5:8080 -f nat --weight 0
              ipvsctl server delete tcp 10.96.0.10:80 10.244.1.5:8080
            """,
        subcommands: [Add.self, Edit.self, Delete.self]
    )

    enum Forwarding: String, ExpressibleByArgument, CaseIterable {
        case route, nat, tunnel
    }

    enum TunnelType: String, ExpressibleByArgument, CaseIterable {
        case ipip, gue, gre
    }

    enum TunnelChecksum: String, ExpressibleByArgument, CaseIterable {
        case none, checksum, remote
    }

    /// A real server's settings: ipvsadm's `-g -m -i -w -x -y --tun-*`.
    struct Settings: ParsableArguments {
        @Option(name: [.short, .long], help: "Forwarding: route (default), nat or tunnel.")
        var forwarding: Forwarding?
        @Option(name: [.short, .long], help: "Weight, 0...2147483647; default 1.") var weight: Int?
        @Option(help: "Upper connection threshold.") var upperThreshold: Int?
        @Option(help: "Lower connection threshold.") var lowerThreshold: Int?
        @Option(help: "Tunnel type: ipip (default), gue or gre.") var tunType: TunnelType?
        @Option(help: "GUE destination port.") var tunPort: Int?
        @Option(help: "Tunnel checksum: none, checksum or remote.") var tunChecksum: TunnelChecksum?

        var ipvsadm: [String] {
            var args: [String] = []
            switch forwarding {
            case .nat: args.append("-m")
            case .tunnel: args.append("-i")
            case .route: args.append("-g")
            case nil: break
            }
            if let weight { args += ["-w", "\(weight)"] }
            if let upperThreshold { args += ["-x", "\(upperThreshold)"] }
            if let lowerThreshold { args += ["-y", "\(lowerThreshold)"] }
            if let tunType { args += ["--tun-type", tunType.rawValue] }
            if let tunPort { args += ["--tun-port", "\(tunPort)"] }
            switch tunChecksum {
            case .none?: args.append("--tun-nocsum")
            case .checksum?: args.append("--tun-csum")
            case .remote?: args.append("--tun-remcsum")
            case nil: break
            }
            return args
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a real server to a virtual service (ipvsadm -a).",
            discussion: """
                EXAMPLES:
                  ipvsctl server add tcp 10.96.0.10:80 10.244.1.5:8080 -f nat --weight 2
                  ipvsctl server add tcp 10.96.0.10:80 10.244.1.6 --upper-threshold 100 \\
                      --lower-threshold 50
                  ipvsctl server add udp 10.96.0.10:53 10.0.0.4 --forwarding tunnel \\
                      --tun-type gue --tun-port 6080
                """
        )
        @OptionGroup var service: ServiceSpec
        @Argument(help: "Real server HOST[:PORT].") var server: String
        @OptionGroup var settings: Settings
        var ipvsadm: [String] { ["-a"] + service.ipvsadm + ["-r", server] + settings.ipvsadm }
        func validate() throws { try check(ipvsadm) }
        func run() throws { runIpvsadm(ipvsadm) }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a real server's settings (ipvsadm -e).",
            discussion: """
                Settings not given return to their defaults, as with ipvsadm -e.

                EXAMPLES:
                  ipvsctl server edit tcp 10.96.0.10:80 10.244.1.5:8080 -f nat --weight 0
                """
        )
        @OptionGroup var service: ServiceSpec
        @Argument(help: "Real server HOST[:PORT].") var server: String
        @OptionGroup var settings: Settings
        var ipvsadm: [String] { ["-e"] + service.ipvsadm + ["-r", server] + settings.ipvsadm }
        func validate() throws { try check(ipvsadm) }
        func run() throws { runIpvsadm(ipvsadm) }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a real server (ipvsadm -d).",
            discussion: """
                EXAMPLES:
                  ipvsctl server delete tcp 10.96.0.10:80 10.244.1.5:8080
                """
        )
        @OptionGroup var service: ServiceSpec
        @Argument(help: "Real server HOST[:PORT].") var server: String
        var ipvsadm: [String] { ["-d"] + service.ipvsadm + ["-r", server] }
        func validate() throws { try check(ipvsadm) }
        func run() throws { runIpvsadm(ipvsadm) }
    }
}
