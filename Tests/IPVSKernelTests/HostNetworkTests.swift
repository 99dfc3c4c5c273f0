import IPVS
import Testing

// The host network against the real kernel, each test in fresh namespaces, with `ip` and /proc/sys read by
// `cat` inside the namespace as the independent oracles.

@Suite(.serialized, .enabled(if: KernelTests.enabled))
struct HostNetworkTests {
    let sandbox: KernelSandbox
    let host: HostNetwork

    init() throws {
        sandbox = try KernelSandbox()  // its IPVS client loads ip_vs, so net/ipv4/vs/* exists in the namespace
        host = try HostNetwork(namespace: sandbox.namespace.namespace)
    }

    func ip(_ text: String) -> IPAddress {
        guard let address = IPAddress(text) else { fatalError("bad address literal \(text)") }
        return address
    }

    /// `ip -o addr show dev NAME` lines, as "inet 10.0.0.1/32 ..." words after the interface name.
    func oracleAddresses(_ interface: String) throws -> [String] {
        try sandbox.run("ip", "-o", "addr", "show", "dev", interface).split(separator: "\n").map { line in
            line.split(separator: " ").dropFirst(2).joined(separator: " ")
        }
    }

    @Test func dummyInterfaceIsCreatedUpAndOnlyOnce() throws {
        #expect(try !host.interfaceExists("ipvs0"))
        let index = try host.ensureDummyInterface(named: "ipvs0")
        #expect(try host.ensureDummyInterface(named: "ipvs0") == index)
        #expect(try host.interfaceExists("ipvs0"))

        let link = try sandbox.run("ip", "-d", "-o", "link", "show", "dev", "ipvs0")
        #expect(link.hasPrefix("\(index): ipvs0: <"))
        let flags = link.split(separator: "<").dropFirst().first?.split(separator: ">").first ?? ""
        #expect(flags.split(separator: ",").contains("UP"), "flags: \(flags)")
        #expect(link.contains(" dummy "), "not a dummy: \(link)")
        #expect(try sandbox.run("ip", "-o", "link", "show", "type", "dummy").split(separator: "\n").count == 1)
    }

    @Test func ensureSetsAnExistingDummyUp() throws {
        try sandbox.run("ip", "link", "add", "vips", "type", "dummy")
        let before = try sandbox.run("ip", "-o", "link", "show", "dev", "vips")
        #expect(!before.contains(",UP") && !before.contains("<UP"))
        let index = try host.ensureDummyInterface(named: "vips")
        let after = try sandbox.run("ip", "-o", "link", "show", "dev", "vips")
        #expect(after.hasPrefix("\(index): vips: <"))
        #expect(after.contains(",UP") || after.contains("<UP"), "still down: \(after)")
    }

    @Test func anotherKindOfInterfaceWithTheNameIsAnError() throws {
        try sandbox.run("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        let veth = #expect(throws: IPVSError.self) { try host.ensureDummyInterface(named: "v0") }
        #expect(veth?.code == .alreadyExists)
        #expect(veth?.message.contains("v0 exists and is a veth interface") == true, "\(String(describing: veth))")

        let loopback = #expect(throws: IPVSError.self) { try host.ensureDummyInterface(named: "lo") }
        #expect(loopback?.message.contains("lo exists and is an interface without a link type") == true)
        // Nothing was changed: still exactly the two veths and loopback.
        #expect(try sandbox.run("ip", "-o", "link", "show").split(separator: "\n").count == 3)
    }

    @Test func addressesAreAddedAsHostRoutesAndUsableAtOnce() throws {
        try host.ensureDummyInterface(named: "ipvs0")
        try host.add(ip("10.96.0.10"), to: "ipvs0")
        try host.add(ip("2001:db8::10"), to: "ipvs0")
        try host.add(ip("10.96.0.10"), to: "ipvs0")  // idempotent
        try host.add(ip("2001:db8::10"), to: "ipvs0")

        let lines = try oracleAddresses("ipvs0")
        #expect(lines.filter { $0.hasPrefix("inet 10.96.0.10/32 ") }.count == 1, "\(lines)")
        let v6 = lines.filter { $0.hasPrefix("inet6 2001:db8::10/128 ") }
        #expect(v6.count == 1, "\(lines)")
        #expect(v6.allSatisfy { $0.contains(" nodad") && !$0.contains("tentative") }, "\(v6)")
        #expect(try host.addresses(on: "ipvs0") == [ip("10.96.0.10"), ip("2001:db8::10")])
        // Usable at once: a tentative address (duplicate address detection running) cannot be bound.
        try sandbox.run(
            "python3",
            "-c",
            "import socket; socket.socket(socket.AF_INET6, socket.SOCK_STREAM).bind(('2001:db8::10', 0))"
        )
    }

    @Test func removeTakesAddressesOfAnyPrefixAndAbsentIsFine() throws {
        try host.ensureDummyInterface(named: "ipvs0")
        try host.add(ip("10.96.0.10"), to: "ipvs0")
        try host.add(ip("2001:db8::10"), to: "ipvs0")
        try sandbox.run("ip", "addr", "add", "10.1.2.3/24", "dev", "ipvs0")

        try host.remove(ip("10.96.0.10"), from: "ipvs0")
        try host.remove(ip("10.96.0.10"), from: "ipvs0")
        try host.remove(ip("10.1.2.3"), from: "ipvs0")
        try host.remove(ip("192.0.2.1"), from: "ipvs0")

        let remaining = try host.addresses(on: "ipvs0")
        #expect(remaining == [ip("2001:db8::10")], "\(remaining)")
        let lines = try oracleAddresses("ipvs0").filter { !$0.hasPrefix("inet6 fe80:") }
        #expect(lines.count == 1 && lines[0].hasPrefix("inet6 2001:db8::10/128 "), "\(lines)")
    }

    @Test func addressesOfAMissingInterfaceNameIt() throws {
        let list = #expect(throws: IPVSError.self) { try host.addresses(on: "nope0") }
        #expect(list?.code == .notFound)
        #expect(list?.message == "cannot list the addresses of nope0: interface nope0 does not exist")
        let add = #expect(throws: IPVSError.self) { try host.add(ip("10.0.0.1"), to: "nope0") }
        #expect(add?.message == "cannot add 10.0.0.1/32 to nope0: interface nope0 does not exist")
    }

    @Test func deleteInterfaceIsIdempotent() throws {
        try host.ensureDummyInterface(named: "ipvs0")
        try host.deleteInterface(named: "ipvs0")
        #expect(try !host.interfaceExists("ipvs0"))
        #expect(try sandbox.runAllowingFailure(["ip", "link", "show", "dev", "ipvs0"]).status != 0)
        try host.deleteInterface(named: "ipvs0")
    }

    @Test func sysctlsBelongToTheirNamespace() throws {
        let other = try KernelSandbox()
        let otherHost = try HostNetwork(namespace: other.namespace.namespace)
        let name = "net/ipv4/vs/conntrack"
        let hostValue = try HostNetwork().sysctl(name)

        try host.setSysctl(name, to: "1")
        #expect(try host.sysctl(name) == "1")
        #expect(try sandbox.run("cat", "/proc/sys/" + name) == "1\n")
        #expect(try otherHost.sysctl(name) == "0")
        #expect(try other.run("cat", "/proc/sys/" + name) == "0\n")
        #expect(try HostNetwork().sysctl(name) == hostValue)

        try host.setSysctl(name, to: "0")
        #expect(try sandbox.run("cat", "/proc/sys/" + name) == "0\n")
    }

    @Test(arguments: [
        IPVSSysctls(),
        IPVSSysctls(conntrack: false, expireNodestConn: false, expireQuiescentTemplate: false, connReuseMode: 2),
    ])
    func applyWritesEverySetting(_ sysctls: IPVSSysctls) throws {
        try host.apply(sysctls)
        try host.apply(sysctls)
        let script = sysctls.settings.map { "cat /proc/sys/\($0.name)" }.joined(separator: "\n")
        let values = try sandbox.runShellScript(script).split(separator: "\n").map(String.init)
        #expect(values == sysctls.settings.map(\.value))
        for setting in sysctls.settings {
            #expect(try host.sysctl(setting.name) == setting.value, "\(setting.name)")
        }
    }

    @Test func sysctlErrorsNameTheSysctl() throws {
        let missing = #expect(throws: IPVSError.self) { try host.sysctl("net/ipv4/vs/no_such_knob") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("sysctl net/ipv4/vs/no_such_knob does not exist") == true)

        let refused = #expect(throws: IPVSError.self) { try host.setSysctl("net/ipv4/vs/conntrack", to: "x") }
        #expect(refused?.code == .invalidArgument)
        #expect(refused?.message.hasPrefix("cannot set sysctl net/ipv4/vs/conntrack to x: ") == true)
        #expect(try host.sysctl("net/ipv4/vs/conntrack") == "0")
    }
}
