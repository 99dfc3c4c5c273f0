import Foundation
import IPVS
import Testing

extension LibraryKernelTests {
    /// Real traffic through a virtual IP: counters move, the library and ipvsadm agree, zero resets them.
    ///
    /// The sandbox namespace is the client side, with the virtual IP on a dummy interface; a second namespace
    /// is the backend (busybox httpd on two ports) behind a veth pair. IPVS NATs the sandbox's own connections.
    @Suite
    struct LibraryDataPathTests: LibrarySuite {
        static let vip = "10.96.0.10"
        static let backend = "10.77.0.2"

        @Test func statisticsMoveWithTrafficAndZero() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            let name = "lib-be-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let root = "/tmp/\(name)"

            // One process for the whole setup: backend namespace, veth, VIP, web servers.
            let setup = try sandbox.runShellScript(
                """
                mkdir -p \(root)
                echo hello-from-the-backend > \(root)/index.html
                ip netns add \(name)
                ip -batch - <<EOF
                link add lib-veth0 type veth peer name lib-veth1 netns \(name)
                addr add 10.77.0.1/24 dev lib-veth0
                link set lib-veth0 up
                link add lib-vip0 type dummy
                addr add \(Self.vip)/32 dev lib-vip0
                link set lib-vip0 up
                EOF
                ip -n \(name) -batch - <<EOF
                link set lo up
                addr add \(Self.backend)/24 dev lib-veth1
                link set lib-veth1 up
                route add default via 10.77.0.1
                EOF
                echo 1 > /proc/sys/net/ipv4/vs/conntrack
                # The servers outlive this script, so they must not keep its descriptors: Foundation's Process
                # learns that the script exited when the last holder of an inherited socket closes it.
                serve() {
                  exec bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
                    exec ip netns exec "$0" busybox httpd -f -p "$1" -h "$2" </dev/null >/dev/null 2>&1' \(name) $1 \(root)
                }
                serve 8080 &
                echo $!
                serve 8081 &
                echo $!
                # Wait for both servers, directly (not through IPVS, which has no service yet).
                for port in 8080 8081; do
                  tries=0
                  until curl -sf --max-time 2 -o /dev/null http://\(Self.backend):$port/; do
                    tries=$((tries + 1)); [ $tries -lt 100 ] || exit 1; sleep 0.1
                  done
                done
                """
            )
            let pids = setup.split(separator: "\n").compactMap { Int32($0) }
            defer {
                _ = try? sandbox.runShellScript(
                    "kill \(pids.map(String.init).joined(separator: " ")) || true\nip netns del \(name) || true\nrm -rf \(root)"
                )
            }
            try #require(pids.count == 2, "setup printed \(setup)")

            let web = tcp(Self.vip, 80)
            let alt = tcp(Self.vip, 81)
            let webServer = RealServer(address: ip(Self.backend), port: 8080, forwarding: .masquerade)
            let altServer = RealServer(address: ip(Self.backend), port: 8081, forwarding: .masquerade)
            client.applyRecordingFailures([
                .addService(VirtualServer(id: web, scheduler: .roundRobin)),
                .addService(VirtualServer(id: alt, scheduler: .roundRobin)),
                .addServer(webServer, to: web),
                .addServer(altServer, to: alt),
            ])

            // Five requests to :80, three to :81, each its own connection.
            let traffic = try sandbox.runShellScript(
                """
                for i in 1 2 3 4 5; do curl -sf --max-time 5 http://\(Self.vip):80/; done
                for i in 1 2 3; do curl -sf --max-time 5 http://\(Self.vip):81/; done
                """
            )
            let bodies = traffic.split(separator: "\n").filter { $0 == "hello-from-the-backend" }
            #expect(bodies.count == 8, "curl output: \(traffic)")

            // The connection table (`-L -n -c`) as ipvsctl prints it equals ipvsadm's. Both read the same
            // /proc file, whose expiry countdown (mm:ss) ticks between the two reads, so that column is masked
            // after checking its shape; everything else must match byte for byte.
            let connections = try sandbox.runAllowingFailure([
                "sh", "-c",
                """
                mask() { sed -E 's/^(TCP|UDP|SCTP) [0-9]{2}:[0-9]{2} /\\1 mm:ss /'; }
                a=$(ipvsadm -L -n -c | mask); b=$("$0" -L -n -c | mask)
                [ "$a" = "$b" ] && { printf '%s\\n' "$a"; exit 0; }
                printf '%s\\n---\\n%s\\n' "$a" "$b"; exit 1
                """,
                IPVSCtlPath.path,
            ])
            #expect(connections.status == 0, "ipvsadm, then ipvsctl:\n\(connections.stdout)\n\(connections.stderr)")
            #expect(connections.stdout.hasPrefix("IPVS connection entries\npro expire state"))
            // Eight connections, each to a backend port through the VIP, every expiry column in mm:ss.
            let entries = connections.stdout.split(separator: "\n").filter { $0.contains("\(Self.backend):808") }
            #expect(entries.count == 8)
            #expect(entries.allSatisfy { $0.hasPrefix("TCP mm:ss  TIME_WAIT") })

            // Linux before 6.2 publishes the per-CPU counters from its rate estimator every 2 s: wait until
            // two reads one estimator period apart agree and count every connection.
            var settled = false
            var previous: [[UInt64]] = []
            for _ in 0..<15 {
                let now = try [web, alt].map { LibraryOracle.counters(try client.service($0).statistics) }
                if now == previous, now[0][0] == 5, now[1][0] == 3 {
                    settled = true
                    break
                }
                previous = now
                Thread.sleep(forTimeInterval: 2.5)
            }
            #expect(settled, "counters did not settle: \(previous)")

            let oracle = LibraryOracle.table(try sandbox.ipvsadm("-Ln", "--stats", "--exact"))
            let webKey = "TCP \(Self.vip):80"
            let altKey = "TCP \(Self.vip):81"
            let webServerKey = "\(webKey) -> \(Self.backend):8080"
            let altServerKey = "\(altKey) -> \(Self.backend):8081"

            let webStats = try client.service(web).statistics
            let altStats = try client.service(alt).statistics
            let webServerStats = try #require(try client.servers(of: web).first).statistics
            let altServerStats = try #require(try client.servers(of: alt).first).statistics
            #expect(webStats.connections == 5)
            #expect(altStats.connections == 3)
            for stats in [webStats, altStats, webServerStats, altServerStats] {
                #expect(stats.incomingPackets > 0)
                #expect(stats.outgoingPackets > 0)
                #expect(stats.incomingBytes > stats.incomingPackets)
                #expect(stats.outgoingBytes > stats.outgoingPackets)
            }
            // One real server per service: its counters are the service's.
            #expect(webServerStats.connections == 5)
            #expect(LibraryOracle.counters(webServerStats) == LibraryOracle.counters(webStats))
            // The library and ipvsadm report the same numbers.
            #expect(oracle[webKey] == LibraryOracle.counters(webStats))
            #expect(oracle[altKey] == LibraryOracle.counters(altStats))
            #expect(oracle[webServerKey] == LibraryOracle.counters(webServerStats))
            #expect(oracle[altServerKey] == LibraryOracle.counters(altServerStats))
            // Rates come from the kernel's estimator and are not asserted; `services()` lists the same counters.
            let listed = try client.services()
            #expect(
                listed.first { $0.virtualServer.id == web }.map { LibraryOracle.counters($0.statistics) }
                    == LibraryOracle.counters(webStats)
            )

            // Zero one service: it and its real server go to 0, the other keeps its counters.
            try client.perform(.zero(web))
            let afterOne = LibraryOracle.table(try sandbox.ipvsadm("-Ln", "--stats", "--exact"))
            #expect(LibraryOracle.counters(try client.service(web).statistics) == [0, 0, 0, 0, 0])
            #expect(
                LibraryOracle.counters(try #require(try client.servers(of: web).first).statistics) == [0, 0, 0, 0, 0]
            )
            #expect(LibraryOracle.counters(try client.service(alt).statistics) == LibraryOracle.counters(altStats))
            #expect(afterOne[webKey] == [0, 0, 0, 0, 0])
            #expect(afterOne[webServerKey] == [0, 0, 0, 0, 0])
            #expect(afterOne[altKey] == LibraryOracle.counters(altStats))
            #expect(afterOne[altServerKey] == LibraryOracle.counters(altServerStats))

            // Zero everything.
            try client.perform(.zero(nil))
            let afterAll = LibraryOracle.table(try sandbox.ipvsadm("-Ln", "--stats", "--exact"))
            for id in [web, alt] {
                #expect(LibraryOracle.counters(try client.service(id).statistics) == [0, 0, 0, 0, 0])
                #expect(
                    LibraryOracle.counters(try #require(try client.servers(of: id).first).statistics) == [
                        0, 0, 0, 0, 0,
                    ]
                )
            }
            #expect(afterAll.count == 4)
            #expect(afterAll.values.allSatisfy { $0 == [0, 0, 0, 0, 0] })
        }
    }
}
