import Foundation
import Testing

@testable import IPVS

// Virtual IPs bound as local routes (HostNetwork.addLocalRoute), against the real kernel: `ip route` is the
// oracle for the table, and curl through IPVS proves the host accepts traffic for a VIP that is no address.

@Suite(.serialized, .enabled(if: KernelTests.enabled))
struct LocalRouteTests {
    let sandbox: KernelSandbox
    let host: HostNetwork

    init() throws {
        sandbox = try KernelSandbox()
        host = try HostNetwork(namespace: sandbox.namespace.namespace)
    }

    func ip(_ text: String) -> IPAddress {
        guard let address = IPAddress(text) else { fatalError("bad address literal \(text)") }
        return address
    }

    /// `ip -o route show table local dev ipvs0 proto 168` for both families, one route per line.
    func oracleRoutes() throws -> [String] {
        try ["-4", "-6"].flatMap { family in
            try sandbox.run("ip", family, "-o", "route", "show", "table", "local", "dev", "ipvs0", "proto", "168")
                .split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
    }

    @Test func routesAreAddedListedAndRemovedIdempotently() throws {
        try host.ensureDummyInterface(named: "ipvs0")
        for address in ["10.96.0.10", "10.96.0.11", "2001:db8::10"] {
            try host.addLocalRoute(ip(address), on: "ipvs0")
            try host.addLocalRoute(ip(address), on: "ipvs0")  // idempotent
        }
        #expect(try host.localRoutes(on: "ipvs0") == [ip("10.96.0.10"), ip("10.96.0.11"), ip("2001:db8::10")])
        let routes = try oracleRoutes()
        #expect(routes.count == 3, "\(routes)")
        #expect(routes.contains { $0.hasPrefix("local 10.96.0.10 ") && $0.contains("scope host src 10.96.0.10") })
        #expect(routes.contains { $0.hasPrefix("local 2001:db8::10 ") }, "\(routes)")
        // None of them is an address: that is the point (an address costs the kernel O(addresses) to add).
        #expect(try host.addresses(on: "ipvs0").isEmpty)

        #expect(try host.removeLocalRoute(ip("10.96.0.10"), from: "ipvs0"))
        #expect(try host.removeLocalRoute(ip("2001:db8::10"), from: "ipvs0"))
        #expect(try !host.removeLocalRoute(ip("10.96.0.10"), from: "ipvs0"))
        #expect(try !host.removeLocalRoute(ip("192.0.2.1"), from: "ipvs0"))
        #expect(try host.localRoutes(on: "ipvs0") == [ip("10.96.0.11")])
        #expect(try oracleRoutes().count == 1)
    }

    /// A first sync binds every VIP at once: one lookup of the interface, then the routes in batches (2,600
    /// routes are several batches at any buffer size the kernel grants), each route as `ip` shows a single
    /// one, and a second batch of the same addresses changes nothing.
    @Test func aBatchRoutesEveryAddressAndIsIdempotent() throws {
        try host.ensureDummyInterface(named: "ipvs0")
        let addresses =
            (0..<2_500).map { ip("10.96.\(1 + $0 / 250).\(1 + $0 % 250)") }
            + (1...100).map { ip("2001:db8::1:\(String($0, radix: 16))") }
        #expect(try host.addLocalRoutes(addresses, on: "ipvs0").isEmpty)
        #expect(try host.addLocalRoutes(addresses, on: "ipvs0").isEmpty)
        #expect(try host.localRoutes(on: "ipvs0") == Set(addresses))
        let routes = try oracleRoutes()
        #expect(routes.count == 2_600)
        #expect(routes.contains("local 10.96.1.1 scope host src 10.96.1.1"), "\(routes.prefix(3))")
        #expect(routes.contains("local 2001:db8::1:64 metric 1024 pref medium"))
        // The same routes one at a time (libnl's rtnl_route_add): `ip` shows them the same way.
        try host.addLocalRoute(ip("10.96.200.1"), on: "ipvs0")
        let single = try oracleRoutes().first { $0.hasPrefix("local 10.96.200.1 ") }
        let batched = routes.first { $0.hasPrefix("local 10.96.1.1 ") }
        #expect(single?.replacingOccurrences(of: "10.96.200.1", with: "10.96.1.1") == batched)
        let missing = #expect(throws: IPVSError.self) { try host.addLocalRoutes(addresses, on: "nope0") }
        #expect(missing?.message == "cannot route addresses as local on nope0: interface nope0 does not exist")
    }

    /// The kernel refuses a route alone, not its batch: with IPv6 disabled on the interface, each IPv6
    /// address of a mixed batch fails with its own error, in order, and every IPv4 address is routed.
    @Test func aBatchReportsEachRefusedAddress() throws {
        try host.ensureDummyInterface(named: "ipvs0")
        try sandbox.run("sysctl", "-qw", "net.ipv6.conf.ipvs0.disable_ipv6=1")
        let addresses = (1...6).map { index in index % 3 == 0 ? ip("2001:db8::\(index)") : ip("10.96.3.\(index)") }
        let failures = try host.addLocalRoutes(addresses, on: "ipvs0")
        #expect(failures.map(\.address) == [ip("2001:db8::3"), ip("2001:db8::6")])
        #expect(failures.first?.error.message.hasPrefix("cannot add the local route 2001:db8::3 on ipvs0: ") == true)
        #expect(failures.allSatisfy { $0.error.errno != nil && $0.error.errno != 0 }, "\(failures)")
        #expect(try host.localRoutes(on: "ipvs0") == Set(addresses.filter { $0.family == .inet }))
    }

    /// The listing is a dump the kernel filters: with 5,000 other routes in the main table, and other local
    /// routes beside ours, it reads only our routes' messages (a full resync lists them; a BGP-fed node has
    /// a million others).
    @Test func theListingReadsOnlyTheAgentsRoutesAmongManyOthers() throws {
        try host.ensureDummyInterface(named: "ipvs0")
        try sandbox.run("ip", "link", "add", "other0", "type", "dummy")
        try sandbox.run("ip", "link", "set", "other0", "up")
        try sandbox.run("ip", "addr", "add", "192.0.2.1/24", "dev", "other0")
        let batch = (0..<5000).map { "route add 198.18.\($0 / 250).\($0 % 250)/32 via 192.0.2.2 dev other0" }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("routes-\(UUID().uuidString)")
        try batch.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try sandbox.run("ip", "-batch", file.path)
        let ours = [ip("10.96.2.1"), ip("10.96.2.2"), ip("2001:db8::2:1")]
        #expect(try host.addLocalRoutes(ours, on: "ipvs0").isEmpty)
        // Local routes that are not ours: another protocol on the interface, ours on another interface.
        try sandbox.run("ip", "route", "add", "local", "10.96.2.9", "dev", "ipvs0", "table", "local", "proto", "static")
        try host.addLocalRoute(ip("10.96.2.8"), on: "other0")

        let socket = try RouteSocket(namespace: sandbox.namespace.namespace)
        let index = try socket.index(of: "ipvs0", for: "test")
        let dump = try socket.localRouteDump(
            ifindex: index,
            protocolNumber: HostNetwork.routeProtocol,
            interface: "ipvs0"
        )
        #expect(Set(dump.routes) == Set(ours))
        #expect(dump.messagesRead == ours.count, "the kernel did not filter: \(dump.messagesRead) messages")
    }

    @Test func onlyTheAgentsRoutesOnItsInterfaceAreListed() throws {
        try host.ensureDummyInterface(named: "ipvs0")
        try sandbox.run("ip", "link", "add", "other0", "type", "dummy")
        try sandbox.run("ip", "link", "set", "other0", "up")
        try host.addLocalRoute(ip("10.96.0.10"), on: "ipvs0")
        // An address's own route (proto kernel), someone else's route on the interface, and ours elsewhere.
        try sandbox.run("ip", "addr", "add", "10.96.0.20/32", "dev", "ipvs0")
        let foreign = "ip route add local 10.96.0.30 dev ipvs0 table local proto static"
        try sandbox.run(foreign.split(separator: " ").map(String.init))
        try host.addLocalRoute(ip("10.96.0.40"), on: "other0")
        #expect(try host.localRoutes(on: "ipvs0") == [ip("10.96.0.10")])
        #expect(try host.localRoutes(on: "other0") == [ip("10.96.0.40")])
    }

    /// How an address of an earlier release becomes a route with no moment in which the host refuses the VIP:
    /// the route goes in through `lo` beside the address's kernel route, and deleting the address leaves it.
    /// Through the dummy it would not survive: the kernel flushes every IPv4 route through an interface whose
    /// last IPv4 address goes, which is why the agent routes through `lo`.
    @Test func aRouteThroughLoopbackOutlivesTheAddressItReplaces() throws {
        try host.ensureDummyInterface(named: "ipvs0")
        try host.add(ip("10.96.0.10"), to: "ipvs0")
        try host.add(ip("2001:db8::10"), to: "ipvs0")
        #expect(try host.hostAddresses(on: "ipvs0").sorted() == [ip("10.96.0.10"), ip("2001:db8::10")])
        try host.addLocalRoute(ip("10.96.0.10"), on: "lo")
        try host.addLocalRoute(ip("2001:db8::10"), on: "lo")
        try host.addLocalRoute(ip("10.96.0.99"), on: "ipvs0")
        try host.remove(ip("10.96.0.10"), from: "ipvs0")
        try host.remove(ip("2001:db8::10"), from: "ipvs0")
        #expect(try host.addresses(on: "ipvs0").isEmpty)
        #expect(try host.localRoutes(on: "lo") == [ip("10.96.0.10"), ip("2001:db8::10")])
        #expect(try host.localRoutes(on: "ipvs0").isEmpty, "the kernel kept a route through an address-less dummy")
        let oracle = try sandbox.run("ip", "-o", "route", "show", "table", "local", "proto", "168")
        #expect(oracle.contains("local 10.96.0.10 dev lo ") && !oracle.contains("10.96.0.99"), "\(oracle)")
    }

    /// A fresh namespace starts with `lo` down, and the host's own connections to a VIP are delivered through
    /// it. (The kernel accepts a local route through a device that is down: only `ensureUp` makes it usable.)
    @Test func loopbackIsSetUpForRoutes() throws {
        try sandbox.run("ip", "link", "set", "lo", "down")
        #expect(try !sandbox.run("ip", "-o", "link", "show", "dev", "lo").contains(",UP"))
        try host.ensureUp("lo")
        try host.ensureUp("lo")
        #expect(try sandbox.run("ip", "-o", "link", "show", "dev", "lo").contains(",UP"))
        try host.addLocalRoute(ip("10.96.0.10"), on: "lo")
        #expect(try host.localRoutes(on: "lo") == [ip("10.96.0.10")])
        let missing = #expect(throws: IPVSError.self) { try host.ensureUp("nope0") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message == "cannot set interface nope0 up: it does not exist")
    }

    @Test func aMissingInterfaceIsNamed() throws {
        let list = #expect(throws: IPVSError.self) { try host.localRoutes(on: "nope0") }
        #expect(list?.message == "cannot list the local routes of nope0: interface nope0 does not exist")
        let add = #expect(throws: IPVSError.self) { try host.addLocalRoute(ip("10.0.0.1"), on: "nope0") }
        #expect(add?.code == .notFound)
        #expect(add?.message == "cannot route 10.0.0.1 as local on nope0: interface nope0 does not exist")
    }

    /// IPv4 and IPv6 VIPs that are only local routes through `lo` (as the agent binds them) carry real
    /// connections through IPVS (NAT), from the host itself (the LOCAL_OUT hook) and from another namespace
    /// routed through it (the LOCAL_IN hook).
    @Test func trafficReachesBackendsThroughRoutedVIPs() throws {
        let suffix = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let (backend, client, root) = ("lr-be-\(suffix)", "lr-cl-\(suffix)", "/tmp/lr-\(suffix)")
        let setup = try sandbox.runShellScript(
            """
            mkdir -p \(root)
            echo hello-through-a-route > \(root)/index.html
            ip netns add \(backend)
            ip netns add \(client)
            ip -batch - <<EOF
            link add lr-be0 type veth peer name eth0 netns \(backend)
            addr add 10.78.0.1/24 dev lr-be0
            addr add fd78::1/64 dev lr-be0 nodad
            link set lr-be0 up
            link add lr-cl0 type veth peer name eth0 netns \(client)
            addr add 10.79.0.1/24 dev lr-cl0
            addr add fd79::1/64 dev lr-cl0 nodad
            link set lr-cl0 up
            EOF
            for ns in \(backend):78 \(client):79; do
              n=${ns%%:*}; net=${ns##*:}
              ip -n $n -batch - <<EOF
            link set lo up
            addr add 10.$net.0.2/24 dev eth0
            addr add fd$net::2/64 dev eth0 nodad
            link set eth0 up
            route add default via 10.$net.0.1
            route add default via fd$net::1
            EOF
            done
            echo 1 > /proc/sys/net/ipv4/vs/conntrack
            echo 1 > /proc/sys/net/ipv4/ip_forward
            echo 1 > /proc/sys/net/ipv6/conf/all/forwarding
            # The server outlives this script, so it must not keep its descriptors: Foundation's Process learns
            # that the script exited when the last holder of an inherited pipe closes it.
            bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
              exec ip netns exec "$0" busybox httpd -f -p 8080 -h "$1" </dev/null >/dev/null 2>&1' \(backend) \(root) &
            echo $!
            for url in http://10.78.0.2:8080/ 'http://[fd78::2]:8080/'; do
              tries=0
              until curl -sf --max-time 2 -o /dev/null "$url"; do
                tries=$((tries + 1)); [ $tries -lt 100 ] || exit 1; sleep 0.1
              done
            done
            """
        )
        defer {
            _ = try? sandbox.runShellScript(
                "kill \(setup.trimmingCharacters(in: .whitespacesAndNewlines)) || true\n"
                    + "ip netns del \(backend) || true\nip netns del \(client) || true\nrm -rf \(root)"
            )
        }
        try #require(Int32(setup.trimmingCharacters(in: .whitespacesAndNewlines)) != nil, "setup printed \(setup)")
        for (vip, server) in [("10.96.0.10", "10.78.0.2"), ("2001:db8::10", "fd78::2")] {
            try host.addLocalRoute(ip(vip), on: "lo")
            let service = VirtualServer.ID.service(.tcp, ip(vip), port: 80)
            let result = sandbox.client.apply([
                .addService(VirtualServer(id: service, scheduler: .roundRobin)),
                .addServer(RealServer(address: ip(server), port: 8080, forwarding: .masquerade), to: service),
            ])
            #expect(result.failures.isEmpty, "\(result.failures)")
        }
        let traffic = try sandbox.runShellScript(
            """
            curl -s --max-time 5 http://10.96.0.10/ || echo failed
            curl -s --max-time 5 'http://[2001:db8::10]/' || echo failed
            ip netns exec \(client) curl -s --max-time 5 http://10.96.0.10/ || echo failed
            ip netns exec \(client) curl -s --max-time 5 'http://[2001:db8::10]/' || echo failed
            """
        )
        let lines = traffic.split(separator: "\n")
        #expect(lines == Array(repeating: "hello-through-a-route", count: 4), "\(traffic)")

        // Unbound, the VIP takes no traffic although IPVS still has the service.
        try host.removeLocalRoute(ip("10.96.0.10"), from: "lo")
        let after = try sandbox.runAllowingFailure(["curl", "-s", "--max-time", "3", "http://10.96.0.10/"])
        #expect(after.status != 0 && !after.stdout.contains("hello-through-a-route"), "\(after.stdout)")
    }
}
