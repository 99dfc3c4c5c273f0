import Foundation
import IPVS
import IPVSAdmin
import TestSupport
import Testing

/// The same command corpus run through real ipvsadm and through ipvsctl (in process), each in its own
/// network namespace, must leave the same kernel state and print the same bytes in every list mode.
@Suite(.enabled(if: KernelTests.enabled), .serialized)
struct IPVSCtlDifferentialTests {
    /// Valid ipvsadm command lines (some fail in the kernel on purpose: both tools must fail alike).
    static let corpus = """
        -A -t 10.0.0.1:80 -s rr -p
        -A -t 10.0.0.1:81 -s wrr
        -A -t 10.0.0.1:90 -p 5 -s rr -M 255.255.0.0
        -A -u 10.0.0.1:53 -o -s sh -b sh-port,sh-fallback
        -A -u 10.0.0.1:54 -s mh -b mh-port
        -A --sctp-service 10.0.0.1:9 -s wrr -b flag-1,flag-3
        -A -t [fd00::1]:443 -s lc -p 100 -M 64
        -A -f 5 -6 -p 60 -M 64
        -A -f 6 -p 60 -M 255.255.255.0
        -A -f 7 -s dh
        -A -t 192.168.1.1:8080 -s nq
        -A -t 10.0.0.1:80
        -A -t 10.0.0.1:82 -s nosuch
        -a -t 10.0.0.1:80 -r 10.0.0.9:80 -m
        -a -t 10.0.0.1:80 -r 10.0.0.99:81 -g -w 65535
        -a -t 10.0.0.1:80 -r 127.0.0.1 -g
        -a -t 10.0.0.1:80 -r 10.0.0.9:80 -m
        -a -t 10.0.0.1:81 -r 10.0.0.20:8080 -m -w 3 -x 100 -y 50
        -a -t 10.0.0.1:81 -r 10.0.0.3:8080 -m -w 2
        -a -t 10.0.0.1:81 -r 192.168.0.3:8080 -m -w 2
        -a -u 10.0.0.1:53 -r 10.0.0.5:5353 -m -w 3
        -a -u 10.0.0.1:53 -r 10.0.0.4 -i --tun-type gue --tun-port 6080 --tun-csum
        -a -u 10.0.0.1:53 -r 10.0.0.2 -i --tun-type gre --tun-csum
        -a -u 10.0.0.1:53 -r 10.0.0.6 -i --tun-type gue --tun-port 6081 --tun-remcsum
        -a -t [fd00::1]:443 -r [fd00::2]:8443 -m -w 0 -x 10 -y 5
        -a -t [fd00::1]:443 -r 10.0.0.7 -i
        -a -f 6 -r 10.0.0.5 -m
        -a -f 7 -r 10.0.0.5:25 -m -w 4
        -a -f 7 -r 10.0.0.6 -g
        -a -t 10.0.0.1:99 -r 10.0.0.5 -m
        -e -t 10.0.0.1:81 -r 10.0.0.3:8080 -m -w 7 -x 9
        -e -t 10.0.0.1:81 -r 10.0.0.4:8080 -m
        -E -t 10.0.0.1:90 -s lc -p 10 -M 255.255.255.0
        -E -t 10.0.0.1:99 -s rr
        -d -t 10.0.0.1:81 -r 192.168.0.3:8080
        -d -t 10.0.0.1:81 -r 192.168.0.4:8080
        -D -t 10.0.0.1:99
        -Z
        -Z -t 10.0.0.1:80
        --set 100 20 30
        """

    static let listModes = [
        "-Ln", "-Ln --stats", "-Ln --rate", "-Ln --exact --stats", "-Ln --exact --rate", "-Ln --thresholds",
        "-Ln --persistent-conn", "-Ln --tun-info", "-Ln --nosort", "-Ln --nosort --tun-info", "-Sn", "-L", "-S",
        "-L --stats", "-Ln -t 10.0.0.1:80", "-Ln -f 5 -6", "-Ln -u 10.0.0.1:53 --tun-info", "-L --timeout",
        "-Ln -t 10.0.0.1:99",
    ]

    static let separator = "=====IPVSCTL====="

    static func arguments(_ line: String) -> [String] { line.split(separator: " ").map(String.init) }

    /// Every list mode printed by real ipvsadm in one process (process starts are slow in the VM).
    static func ipvsadmListings(_ sandbox: KernelSandbox) throws -> [String] {
        let script = listModes.map { "ipvsadm \($0) 2>&1; echo \(separator)" }.joined(separator: "\n")
        let out = try sandbox.run("sh", "-c", script)
        return out.components(separatedBy: separator + "\n").dropLast().map { String($0) }
    }

    static func ipvsctlListings(_ admin: IPVSAdmin) -> [String] {
        listModes.map { mode in
            let output = admin.run(arguments(mode))
            return output.stdout + output.stderr
        }
    }

    @Test func corpusLeavesIdenticalStateAndListings() throws {
        let viaIpvsadm = try KernelSandbox()
        let viaIpvsctl = try KernelSandbox()
        // ipvsadm -R keeps going after kernel errors, as a sequence of ipvsadm commands would.
        _ = try viaIpvsadm.runAllowingFailure(["ipvsadm", "-R"], input: Self.corpus + "\n")
        let admin = IPVSAdmin(kernel: viaIpvsctl.client, resolver: SystemResolver(), programName: "ipvsadm")
        var kernelFailures = 0
        for line in Self.corpus.split(separator: "\n") {
            let output = admin.run(Self.arguments(String(line)))
            if output.status != 0 { kernelFailures += 1 }
        }
        #expect(kernelFailures == 8)

        let saveA = try viaIpvsadm.ipvsadm("-Sn")
        let saveB = try viaIpvsctl.ipvsadm("-Sn")
        #expect(!saveA.isEmpty)
        #expect(saveA == saveB)

        // Byte-for-byte listings, same kernel state (same hash order for --nosort): ipvsadm vs ipvsctl.
        let reference = try Self.ipvsadmListings(viaIpvsadm)
        let mine = Self.ipvsctlListings(
            IPVSAdmin(kernel: viaIpvsadm.client, resolver: SystemResolver(), programName: "ipvsadm")
        )
        #expect(reference.count == Self.listModes.count)
        for (index, mode) in Self.listModes.enumerated() where index < reference.count {
            #expect(mine[index] == reference[index], "ipvsctl \(mode)")
        }
    }

    @Test func restoreRoundTripsBothWays() throws {
        let source = try KernelSandbox()
        _ = try source.runAllowingFailure(["ipvsadm", "-R"], input: Self.corpus + "\n")
        let saved = try source.ipvsadm("-Sn")

        // ipvsctl restores what ipvsadm saved.
        let target = try KernelSandbox()
        let restored = IPVSAdmin(kernel: target.client).run(["-R"], stdin: { "# saved by ipvsadm\n\n" + saved })
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try target.ipvsadm("-Sn") == saved)

        // ipvsadm restores what ipvsctl saved (with a leading "ipvsadm" on each line, as ipvsadm-save users write).
        let mySave = IPVSAdmin(kernel: source.client).run(["-Sn"])
        #expect(mySave.stdout == saved)
        let back = try KernelSandbox()
        let prefixed = mySave.stdout.split(separator: "\n").map { "ipvsadm \($0)" }.joined(separator: "\n") + "\n"
        try back.ipvsadm("-R", input: prefixed)
        #expect(try back.ipvsadm("-Sn") == saved)
    }

    @Test func restoreValidatesEverythingFirst() throws {
        let sandbox = try KernelSandbox()
        let input = "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2 -w 2147483648\n-A -t 80\n"
        let output = IPVSAdmin(kernel: sandbox.client).run(["-R"], stdin: { input })
        #expect(output.status == 2)
        #expect(
            output.stderr == """
                line 2: illegal weight specified
                line 3: illegal virtual server address[:port] specified
                restore: 2 bad lines; nothing was applied

                """
        )
        #expect(try sandbox.ipvsadm("-Sn") == "")
    }

    @Test func applyMakesTheKernelEqualToTheFile() throws {
        let sandbox = try KernelSandbox()
        _ = try sandbox.runAllowingFailure(["ipvsadm", "-R"], input: Self.corpus + "\n")
        let desired = """
            -A -t 10.0.0.1:80 -s wlc
            -a -t 10.0.0.1:80 -r 10.0.0.9:80 -m -w 2
            -a -t 10.0.0.1:80 -r 10.0.0.10:80 -m -w 2147483647
            -A -u 10.0.0.2:53 -s rr
            -a -u 10.0.0.2:53 -r 10.0.0.5 -g -w 1

            """
        let lines = try RestoreParser.parse(desired, parser: IpvsadmParser(resolver: NumericResolver()))
        let (table, _) = try ApplyPlanner.desiredTable(lines)
        let plan = ApplyPlanner.plan(desired: table, observed: try IPVSAdmin.snapshot(sandbox.client))
        #expect(sandbox.client.apply(plan, progress: nil).succeeded)
        #expect(ApplyPlanner.plan(desired: table, observed: try IPVSAdmin.snapshot(sandbox.client)).isEmpty)
        let info = IPVSInfo(versionCode: 0, connectionTableSize: 0)
        let expected = ListPrinter(format: [.rule, .numeric], resolver: NumericResolver()).table(
            table.snapshot,
            info: info
        )
        #expect(try sandbox.ipvsadm("-Sn") == expected)
    }

    /// Both edges of every number ipvsctl checks, as Debian's ipvsadm 1.31 and the kernel take them: the
    /// ranges follow the installed tool (weights to INT_MAX, a Debian patch) rather than upstream's source.
    /// Each line runs through both tools in order, each in its own namespace; the exit status, the message
    /// and the resulting table must match line for line.
    static let rangeEdges = """
        -A -t 10.0.0.1:80 -s wrr
        -a -t 10.0.0.1:80 -r 10.0.0.2:1 -m -w -1
        -a -t 10.0.0.1:80 -r 10.0.0.2:2 -m -w 0
        -a -t 10.0.0.1:80 -r 10.0.0.2:3 -m -w 65535
        -a -t 10.0.0.1:80 -r 10.0.0.2:4 -m -w 65536
        -a -t 10.0.0.1:80 -r 10.0.0.2:5 -m -w 70000
        -a -t 10.0.0.1:80 -r 10.0.0.2:6 -m -w 2147483647
        -a -t 10.0.0.1:80 -r 10.0.0.2:7 -m -w 2147483648
        -a -t 10.0.0.1:80 -r 10.0.0.2:8 -m -w 99999999999
        -e -t 10.0.0.1:80 -r 10.0.0.2:2 -m -w 2147483647
        -a -t 10.0.0.1:80 -r 10.0.0.3:1 -m -x -1
        -a -t 10.0.0.1:80 -r 10.0.0.3:2 -m -x 0
        -a -t 10.0.0.1:80 -r 10.0.0.3:3 -m -x 2147483647 -y 2147483647
        -a -t 10.0.0.1:80 -r 10.0.0.3:4 -m -x 2147483648
        -a -t 10.0.0.1:80 -r 10.0.0.3:5 -m -y -1
        -a -t 10.0.0.1:80 -r 10.0.0.3:6 -m -y 65536
        -a -t 10.0.0.1:80 -r 10.0.0.3:7 -m -y 2147483648
        -A -t 10.0.0.1:101 -p 0
        -A -t 10.0.0.1:102 -p 1
        -A -t 10.0.0.1:103 -p 2678400
        -A -t 10.0.0.1:104 -p 2678401
        -A -t 10.0.0.1:105 -p 4294967296
        -A -t 10.0.0.1:106 -p 10 -M 0.0.0.0
        -A -t 10.0.0.1:107 -p 10 -M 255.0.255.0
        -A -t 10.0.0.1:108 -p 10 -M 24
        -A -t [fd00::1]:201 -p 10 -M 0
        -A -t [fd00::1]:202 -p 10 -M 1
        -A -t [fd00::1]:203 -p 10 -M 128
        -A -t [fd00::1]:204 -p 10 -M 129
        -A -t [fd00::1]:205 -p 10 -M 255.255.255.0
        --set 0 0 0
        --set 2678400 1 2678400
        --set 2678401 1 1
        --set 4294967296 1 1
        -A -t 10.0.0.2:0
        -A -t 10.0.0.2:1
        -A -t 10.0.0.2:65535
        -A -t 10.0.0.2:65536
        -A -u 10.0.0.2:-1
        -A -f 0
        -A -f 1
        -A -f 4294967295
        -A -f 4294967296
        -A -f -1
        -A -u 10.0.0.1:53
        -a -u 10.0.0.1:53 -r 10.0.0.11 -i --tun-type gue --tun-port 0
        -a -u 10.0.0.1:53 -r 10.0.0.12 -i --tun-type gue --tun-port 1
        -a -u 10.0.0.1:53 -r 10.0.0.13 -i --tun-type gue --tun-port 65535
        -a -u 10.0.0.1:53 -r 10.0.0.14 -i --tun-type gue --tun-port 65536
        --start-daemon master --syncid -1
        --start-daemon master --syncid 0 --mcast-interface nosuch0
        --start-daemon master --syncid 255 --mcast-interface nosuch0
        --start-daemon master --syncid 256
        --start-daemon master --sync-maxlen 0
        --start-daemon master --sync-maxlen 1 --mcast-interface nosuch0
        --start-daemon master --sync-maxlen 65507 --mcast-interface nosuch0
        --start-daemon master --sync-maxlen 65508
        --start-daemon master --mcast-port 0
        --start-daemon master --mcast-port 65535 --mcast-interface nosuch0
        --start-daemon master --mcast-port 65536
        --start-daemon master --mcast-ttl 0
        --start-daemon master --mcast-ttl 255 --mcast-interface nosuch0
        --start-daemon master --mcast-ttl 256
        """

    @Test func numericRangeEdgesMatchDebiansIpvsadm() throws {
        let lines = Self.rangeEdges.split(separator: "\n").map(String.init)
        let viaIpvsadm = try KernelSandbox()
        // One shell for every ipvsadm run: process starts are slow in the VM.
        let script = lines.map { "ipvsadm \($0) 2>&1; echo \"rc=$?\"; echo \(Self.separator)" }.joined(separator: "\n")
        let reference = try viaIpvsadm.run("sh", "-c", script).components(separatedBy: Self.separator + "\n").dropLast()
        try #require(reference.count == lines.count)

        let viaIpvsctl = try KernelSandbox()
        let admin = IPVSAdmin(kernel: viaIpvsctl.client, resolver: SystemResolver(), programName: "ipvsadm")
        var refused = 0
        for (line, expected) in zip(lines, reference) {
            let output = admin.run(Self.arguments(line))
            let hints = withoutHints(output.stdout + output.stderr)
            #expect(hints + "rc=\(output.status)\n" == expected, "ipvsadm \(line)")
            if output.status == 2 { refused += 1 }
        }
        // The corpus has both edges of each range: some refused by the parser, the rest accepted or refused by the kernel.
        #expect(refused >= 20)
        #expect(try viaIpvsadm.ipvsadm("-Sn") == (try viaIpvsctl.ipvsadm("-Sn")))
        #expect(try viaIpvsadm.ipvsadm("-L", "--timeout") == (try viaIpvsctl.ipvsadm("-L", "--timeout")))
        #expect(try viaIpvsctl.ipvsadm("-Sn").contains("-w 2147483647"))
    }
}
