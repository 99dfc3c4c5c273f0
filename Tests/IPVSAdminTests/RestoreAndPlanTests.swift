import IPVS
import IPVSAdmin
import TestSupport
import Testing

@Suite struct RestoreAndPlanTests {
    let parser = IpvsadmParser(programName: "ipvsctl", resolver: FixtureResolver())

    @Test func restoreAcceptsSaveOutputCommentsAndPrefixes() throws {
        let text = """
            # saved
            ipvsadm -A -t 10.0.0.1:80 -s rr

            -a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1   # trailing comment
            \t
            """
        let lines = try RestoreParser.parse(text, parser: parser)
        #expect(lines.map(\.line) == [2, 4])
    }

    @Test func restoreReadsBytesAsIpvsadmDoes() throws {
        // CR-LF endings: Swift's Character view joins "\r\n" into one Character; ipvsadm and we split on LF
        // and treat CR as a blank.
        let lines = try RestoreParser.parse(
            "-A -t 10.0.0.1:80 -s rr\r\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m\r\n",
            parser: parser
        )
        #expect(lines.map(\.line) == [1, 2])
        #expect(
            lines.map(\.command.operation) == [
                .addService(VirtualServer(id: .service(.tcp, IPAddress("10.0.0.1")!, port: 80), scheduler: "rr")),
                .addServer(
                    RealServer(address: IPAddress("10.0.0.2")!, port: 80, forwarding: .masquerade),
                    to: .service(.tcp, IPAddress("10.0.0.1")!, port: 80)
                ),
            ]
        )
        // A combining mark after an option letter does not make it another option: the byte is still `-A`'s.
        #expect(throws: RestoreFailure.self) { try RestoreParser.parse("-A\u{301} -t 10.0.0.1:80\n", parser: parser) }
    }

    @Test func restoreReportsEveryBadLineAndAppliesNothing() {
        let kernel = FakeKernel()
        let admin = IPVSAdmin(kernel: kernel, resolver: FixtureResolver())
        let output = admin.run(["-R"], stdin: { "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r x -w 1\n-L\n-A -t 80\n" })
        #expect(output.status == 2)
        #expect(
            output.stderr == """
                line 2: illegal real server address[:port] specified
                line 3: only commands that change IPVS can be restored
                line 4: illegal virtual server address[:port] specified
                restore: 3 bad lines; nothing was applied

                """
        )
        #expect(kernel.log.withLock { $0.isEmpty })
    }

    @Test func restoreReportsKernelFailuresWithLineNumbers() {
        let admin = IPVSAdmin(kernel: FakeKernel(), resolver: FixtureResolver())
        let output = admin.run(["-R"], stdin: { "-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80\n-A -t 10.0.0.2:80 -s nope\n" })
        #expect(output.status == 255)
        #expect(
            withoutHints(output.stderr)
                == "line 2: Service already exists\nline 3: Scheduler or persistence engine not found\n"
        )
    }

    @Test func planAddsUpdatesAndDeletesOnlyDifferences() throws {
        let vip = IPAddress("10.0.0.1")!
        let a = VirtualServer.ID.service(.tcp, vip, port: 80)
        let b = VirtualServer.ID.service(.tcp, vip, port: 81)
        let c = VirtualServer.ID.service(.udp, vip, port: 53)
        let s1 = RealServer(address: IPAddress("10.0.0.2")!, port: 80, forwarding: .masquerade)
        let s2 = RealServer(address: IPAddress("10.0.0.3")!, port: 80, forwarding: .masquerade)
        let kernel = FakeKernel([
            .addService(VirtualServer(id: a, scheduler: "rr")), .addServer(s1, to: a), .addServer(s2, to: a),
            .addService(VirtualServer(id: b)),
        ])
        let lines = try RestoreParser.parse(
            """
            -A -t 10.0.0.1:80 -s wrr
            -a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 5
            -A -u 10.0.0.1:53 -s rr
            """,
            parser: parser
        )
        let (table, _) = try ApplyPlanner.desiredTable(lines)
        let plan = ApplyPlanner.plan(desired: table, observed: try IPVSAdmin.snapshot(kernel))
        var s1w5 = s1
        s1w5.weight = 5
        #expect(
            plan == [
                .deleteService(b), .updateService(VirtualServer(id: a, scheduler: "wrr")),
                .updateServer(s1w5, in: a), .deleteServer(s2.id, from: a),
                .addService(VirtualServer(id: c, scheduler: "rr")),
            ]
        )
        #expect(kernel.apply(plan, progress: nil).succeeded)
        #expect(ApplyPlanner.plan(desired: table, observed: try IPVSAdmin.snapshot(kernel)).isEmpty)
        #expect(
            PlanText.render(plan) == """
                - -D -t 10.0.0.1:81
                ~ -E -t 10.0.0.1:80 -s wrr
                ~ -e -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 5
                - -d -t 10.0.0.1:80 -r 10.0.0.3:80
                + -A -u 10.0.0.1:53 -s rr

                """
        )
    }

    @Test func replacedServersAreAddedBeforeTheOldOnesGo() throws {
        let a = VirtualServer.ID.service(.tcp, IPAddress("10.0.0.1")!, port: 80)
        let old = RealServer(address: IPAddress("10.0.0.2")!, port: 80, forwarding: .masquerade)
        let new = RealServer(address: IPAddress("10.0.0.9")!, port: 80, forwarding: .masquerade)
        let kernel = FakeKernel([.addService(VirtualServer(id: a, scheduler: "rr")), .addServer(old, to: a)])
        let lines = try RestoreParser.parse(
            "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.9:80 -m\n",
            parser: parser
        )
        let (table, _) = try ApplyPlanner.desiredTable(lines)
        let plan = ApplyPlanner.plan(desired: table, observed: try IPVSAdmin.snapshot(kernel))
        #expect(plan == [IPVSOperation.addServer(new, to: a), .deleteServer(old.id, from: a)])
    }

    @Test func largeNumbersAndSortQuirk() {
        let printer = ListPrinter(format: .stats, resolver: NumericResolver())
        #expect(printer.largeNumber(99_999_999) == " 99999999")
        #expect(printer.largeNumber(100_000_000) == "  100000K")
        #expect(printer.largeNumber(1_000_000_000) == "    1000M")
        #expect(printer.largeNumber(100_000_000_000) == "     100G")
        #expect(printer.largeNumber(100_000_000_000_000) == "     100T")
        let exact = ListPrinter(format: [.stats, .exact], resolver: NumericResolver())
        #expect(exact.largeNumber(1_234_567_890) == " 1234567890")
        // ipvsadm compares addresses by a wrapping 32-bit difference: 10.0.0.1 sorts after 192.168.0.1.
        let low = ServiceEntry(
            service: .init(virtualServer: VirtualServer(id: .service(.tcp, IPAddress("10.0.0.1")!, port: 80))),
            servers: []
        )
        let high = ServiceEntry(
            service: .init(virtualServer: VirtualServer(id: .service(.tcp, IPAddress("192.168.0.1")!, port: 80))),
            servers: []
        )
        #expect(IPVSSort.services([low, high]) == [high, low])
    }

    @Test func jsonSchema() {
        let vs = VirtualServer(id: .service(.tcp, IPAddress("10.0.0.1")!, port: 80), scheduler: "rr")
        let json = JSONOutput.services(
            [ServiceEntry(service: .init(virtualServer: vs), servers: [])],
            info: IPVSInfo(versionCode: 0x010201, connectionTableSize: 4096)
        )
        #expect(json.hasPrefix("{\n  \"version\": \"1.2.1\",\n  \"connectionTableSize\": 4096,\n  \"services\": [\n"))
        #expect(json.contains("\"scheduler\": \"rr\""))
        #expect(
            JSONOutput.timeouts(Timeouts(tcp: 900, tcpFin: 120, udp: 300))
                == "{\n  \"tcp\": 900,\n  \"tcpFin\": 120,\n  \"udp\": 300\n}\n"
        )
    }
}
