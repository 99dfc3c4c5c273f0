import IPVS
import IPVSAdmin
import Testing

@Suite struct ParserTests {
    let parser = IpvsadmParser(programName: "ipvsctl", resolver: FixtureResolver())
    let vip = IPAddress("10.0.0.1")!
    let rip = IPAddress("10.0.0.2")!

    func parse(_ line: String) throws(AdminError) -> AdminCommand {
        try parser.parse(line.split(separator: " ").map(String.init))
    }

    /// The kernel operation a command line parses to, nil for reads.
    func change(_ line: String) throws(AdminError) -> IPVSOperation? {
        try parse(line).operation
    }

    func error(_ line: String) -> AdminError? {
        do {
            _ = try parse(line)
            return nil
        } catch {
            return error
        }
    }

    @Test func addServiceDefaults() throws {
        #expect(try change("-A -t 10.0.0.1:80") == .addService(VirtualServer(id: .service(.tcp, vip, port: 80))))
    }

    @Test(
        arguments: [
            ("-A -t 10.0.0.1:80 -s rr -p", ServiceFlags.persistent, UInt32(360), "rr"),
            ("-A -t 10.0.0.1:80 -p5 -s rr", .persistent, 5, "rr"),
            ("-A -t 10.0.0.1:80 --persistent=7", .persistent, 7, "wlc"),
            ("-A -t 10.0.0.1:80 --persistent 8", .persistent, 8, "wlc"),
            ("-At 10.0.0.1:80 -p -s sh", .persistent, 360, "sh"),
            ("-A -t10.0.0.1:80 -srr", [], 0, "rr"),
            ("--add-service --tcp-service=10.0.0.1:80 --scheduler=lc", [], 0, "lc"),
            ("-A -t 10.0.0.1:80 -b flag-2 -s dh", .scheduler2, 0, "dh"),
            ("-A -t 10.0.0.1:80 -s sh -b sh-port,sh-fallback", [.sourceHashPort, .sourceHashFallback], 0, "sh"),
            ("-A -t 10.0.0.1:80 -s mh -b mh-fallback", .maglevFallback, 0, "mh"),
            ("-A -t 10.0.0.1:80 -s abcdefghijklmnopqrst", [], 0, "abcdefghijklmno"),
        ] as [(String, ServiceFlags, UInt32, String)]
    )
    func serviceOptions(line: String, flags: ServiceFlags, timeout: UInt32, scheduler: String) throws {
        guard case .addService(let vs) = try change(line) else {
            Issue.record("not an add")
            return
        }
        #expect(vs.flags == flags)
        #expect(vs.timeout == timeout)
        #expect(vs.scheduler.rawValue == scheduler)
    }

    @Test func netmasksAndFirewallMarks() throws {
        #expect(
            try change("-A -f 6 -p 60 -M 255.255.255.0")
                == .addService(
                    VirtualServer(id: .firewallMark(6, .inet), flags: .persistent, timeout: 60, netmask: 0xFFFF_FF00)
                )
        )
        #expect(
            try change("-A -f 5 -6 -p 60 -M 64")
                == .addService(
                    VirtualServer(id: .firewallMark(5, .inet6), flags: .persistent, timeout: 60, netmask: 64)
                )
        )
        let v6 = IPAddress("fd00::1")!
        #expect(
            try change("-E -t [fd00::1]:443 -s lc")
                == .updateService(VirtualServer(id: .service(.tcp, v6, port: 443), scheduler: "lc", netmask: 128))
        )
    }

    @Test func namesResolveThroughTheResolver() throws {
        #expect(try change("-D -t localhost:http") == .deleteService(.service(.tcp, IPAddress("127.0.0.1")!, port: 80)))
        #expect(try change("-D -u 10.0.0.1:domain") == .deleteService(.service(.udp, vip, port: 53)))
        #expect(try change("-D -t 10.1:80") == .deleteService(.service(.tcp, IPAddress("10.0.0.1")!, port: 80)))
    }

    @Test func realServerDefaultsAndPorts() throws {
        let id = VirtualServer.ID.service(.tcp, vip, port: 80)
        #expect(try change("-a -t 10.0.0.1:80 -r 10.0.0.2") == .addServer(RealServer(address: rip, port: 80), to: id))
        // Direct routing and tunnelling always use the service port.
        #expect(
            try change("-a -t 10.0.0.1:80 -r 10.0.0.2:8080") == .addServer(RealServer(address: rip, port: 80), to: id)
        )
        #expect(
            try change("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 0 -x 10 -y 5")
                == .addServer(
                    RealServer(
                        address: rip,
                        port: 8080,
                        forwarding: .masquerade,
                        weight: 0,
                        upperThreshold: 10,
                        lowerThreshold: 5
                    ),
                    to: id
                )
        )
        #expect(
            try change("-a -u 10.0.0.1:53 -r 10.0.0.2 -i --tun-type gue --tun-port 6080 --tun-csum")
                == .addServer(
                    RealServer(
                        address: rip,
                        port: 53,
                        forwarding: .tunnel,
                        tunnelType: .gue,
                        tunnelPort: 6080,
                        tunnelFlags: .checksum
                    ),
                    to: .service(.udp, vip, port: 53)
                )
        )
        #expect(
            try change("-d -t 10.0.0.1:80 -r 10.0.0.2:81") == .deleteServer(.init(address: rip, port: 81), from: id)
        )
        #expect(
            try change("-a -f 6 -r 10.0.0.2 -m")
                == .addServer(RealServer(address: rip, port: 0, forwarding: .masquerade), to: .firewallMark(6, .inet))
        )
    }

    @Test func listsAndOthers() throws {
        #expect(try parse("-Ln") == .list(.all, .numeric))
        #expect(try parse("-L -n --stats --exact") == .list(.all, [.numeric, .stats, .exact]))
        #expect(try parse("-l --timeout") == .list(.timeouts, []))
        #expect(try parse("-L --daemon") == .list(.daemons, []))
        #expect(try parse("-L -c") == .list(.connections, []))
        #expect(try parse("-L -n -t 10.0.0.1:80 --sort") == .list(.service(.service(.tcp, vip, port: 80)), .numeric))
        #expect(try parse("-Sn") == .save([.rule, .numeric]))
        #expect(try change("-C") == .flush)
        #expect(try change("-Z") == .zero(nil))
        #expect(try parse("-R") == .restore)
        #expect(try change("--set 900 120 300") == .setTimeouts(Timeouts(tcp: 900, tcpFin: 120, udp: 300)))
        #expect(try change("--set -- 0 0 0") == .setTimeouts(Timeouts()))
        #expect(try change("--stop-daemon backup") == .stopDaemon(.backup))
        #expect(
            try change(
                "--start-daemon master --mcast-interface eth1 --syncid 7 --mcast-group 224.0.0.99 --mcast-port 9000 --mcast-ttl 3 --sync-maxlen 1000"
            )
                == .startDaemon(
                    SyncDaemon(
                        state: .master,
                        interface: "eth1",
                        syncID: 7,
                        maximumLength: 1000,
                        multicastGroup: IPAddress("224.0.0.99"),
                        multicastPort: 9000,
                        multicastTTL: 3
                    )
                )
        )
        #expect(try change("--start-daemon backup") == .startDaemon(SyncDaemon(state: .backup, interface: "eth0")))
        #expect(try parse("-h") == .help)
        #expect(try parse("--version") == .version)
    }

    @Test(
        arguments: [
            ("", "Try `ipvsctl -h' or 'ipvsctl --help' for more information.", Int32(255)),
            ("-n -L", "Try `ipvsctl -h' or 'ipvsctl --help' for more information.", 255),
            ("--bogus", "Try `ipvsctl -h' or 'ipvsctl --help' for more information.", 255),
            ("-L --bogus", "--bogus: unknown option", 255),
            ("-Lq", "-Lq: unknown option", 255),
            ("-L --numeric=1", "--numeric=1: option does not take an argument", 255),
            ("-A -t 10.0.0.1:80 -s", "-s: missing argument", 255),
            ("-L -A", "invalid option `-A'", 2),
            ("-A -A", "invalid option `-A'", 2),
            ("-A -t 10.0.0.1:80 -w 3", "Illegal 'weight' option with the 'add-service' command", 2),
            ("-a -t 10.0.0.1:80 -r 10.0.0.2 -w 2147483648", "illegal weight specified", 2),
            ("-a -t 10.0.0.1:80 -r 10.0.0.2 -w -1", "illegal weight specified", 2),
            ("-a -t 10.0.0.1:80 -r 10.0.0.2 -w 1 -w 2", "multiple 'weight' options specified", 2),
            ("-a -t 10.0.0.1:80 -r nohost", "illegal real server address[:port] specified", 2),
            ("-a -t 10.0.0.1:80 -r 10.0.0.2:nosvc", "illegal real server address[:port] specified", 2),
            ("-A -t 10.0.0.1:99999", "illegal virtual server address[:port] specified", 2),
            ("-A -u 10.0.0.1:53 -s rr -b flag-4", "invalid scheduler flag `flag-4'", 2),
            ("-A -t 10.0.0.1:80 -s sh -b mh-port", "incompatible scheduler flag `mh-port'", 2),
            ("-A -t 10.0.0.1:80 -p 2678401", "invalid timeout value `2678401' specified", 2),
            ("-A -f 4294967296", "invalid fwmark value `4294967296' specified", 2),
            ("-L --stats -c", "options conflicts in the list command", 2),
            (
                "-L -c -t 10.0.0.1:80",
                "The option 'service-address' conflicts with the 'connection' option in the 'list' command", 2
            ),
            (
                "-L --timeout --daemon",
                "The option 'daemon' conflicts with the 'timeout' option in the 'list' command", 2
            ),
            ("--start-daemon master --mcast-group 10.0.0.1", "invalid IPv4 mcast-group `10.0.0.1'", 2),
            ("--start-daemon master --mcast-group fd00::1", "invalid IPv6 mcast-group `fd00::1'", 2),
            ("--start-daemon master --syncid 256", "illegal syncid specified", 2),
            (
                "--stop-daemon master --mcast-interface eth0",
                "Illegal 'mcast-interface' option with the 'stop-daemon' command", 2
            ),
            (
                "-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gre --tun-nocsum --tun-csum",
                "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type", 2
            ),
            (
                "-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type ipip --tun-csum",
                "Illegal 'tun-csum' option with the 'ipip' tunnel type", 2
            ),
            ("-e -t 10.0.0.1:80 -r 10.0.0.2 -m --tun-csum", "Tunnel options conflict with forward method", 2),
            ("-Z -t 10.0.0.1:80 -n", "Illegal 'numeric' option with the 'zero' command", 2),
            ("-R -n", "Illegal 'numeric' option with the 'restore' command", 2),
            ("--set 1 2 3 4", "unexpected argument 4", 2),
            ("-A -t 10.0.0.1:80 -g", "Illegal 'forwarding-method' option with the 'add-service' command", 2),
        ] as [(String, String, Int32)]
    )
    func errors(line: String, message: String, status: Int32) {
        let failure = error(line)
        #expect(failure?.message == message)
        #expect(failure?.status == status)
    }
}
