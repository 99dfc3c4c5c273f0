import Foundation
import IPVS
import Testing

extension LibraryKernelTests {
    /// Everything the library can add, read back through the library and through ipvsadm.
    @Suite
    struct LibraryRoundTripTests: LibrarySuite {
        @Test func servicesAndServersRoundTrip() throws {
            let sandbox = try KernelSandbox()

            let web = VirtualServer(id: tcp("10.0.0.1", 80), scheduler: .roundRobin)
            let dns = VirtualServer(
                id: udp("10.0.0.1", 53),
                scheduler: .weightedRoundRobin,
                flags: [.persistent, .onePacket],
                timeout: 60,
                netmask: 0xFFFF_0000,
                persistenceEngine: "sip"
            )
            let signalling = VirtualServer(id: sctp("10.0.0.1", 9999))
            let web6 = VirtualServer(
                id: tcp("2001:db8::1", 443),
                scheduler: .sourceHashing,
                flags: [.persistent, .sourceHashFallback, .sourceHashPort],
                timeout: 100,
                netmask: 48
            )
            let dns6 = VirtualServer(
                id: udp("2001:db8::1", 53),
                scheduler: .maglevHashing,
                flags: [.maglevFallback, .maglevPort]
            )
            let signalling6 = VirtualServer(id: sctp("2001:db8::2", 5060), scheduler: .neverQueue)
            let mark4 = VirtualServer(
                id: .firewallMark(1, .inet),
                scheduler: .leastConnection,
                flags: [.persistent],
                timeout: 300,
                netmask: 0xFFFF_FF00
            )
            let mark6 = VirtualServer(
                id: .firewallMark(2, .inet6),
                scheduler: .destinationHashing,
                flags: [.persistent],
                timeout: 3600,
                netmask: 64
            )
            let tunnels = VirtualServer(id: tcp("10.0.0.2", 80), flags: [.scheduler3])

            let servers: [(VirtualServer, [RealServer])] = [
                (
                    web,
                    [
                        RealServer(address: ip("192.168.1.1"), port: 8080, forwarding: .masquerade, weight: 0),
                        RealServer(address: ip("192.168.1.2"), port: 80, forwarding: .directRouting, weight: 65535),
                        RealServer(
                            address: ip("192.168.1.3"),
                            port: 80,
                            forwarding: .masquerade,
                            weight: 7,
                            upperThreshold: 100,
                            lowerThreshold: 50
                        ),
                        RealServer(address: ip("192.168.1.4"), port: 80, forwarding: .local),
                        RealServer(address: ip("192.168.1.5"), port: 80, forwarding: .bypass),
                    ]
                ),
                (
                    dns,
                    [
                        RealServer(address: ip("192.168.3.1"), port: 53, forwarding: .masquerade),
                        RealServer(address: ip("192.168.3.2"), port: 5353, weight: 3),
                    ]
                ),
                (signalling, [RealServer(address: ip("192.168.5.1"), port: 9999, forwarding: .masquerade)]),
                (
                    web6,
                    [
                        RealServer(address: ip("2001:db8::10"), port: 443, forwarding: .masquerade, weight: 2),
                        RealServer(address: ip("2001:db8::11"), port: 8443, upperThreshold: 1000),
                    ]
                ),
                (dns6, [RealServer(address: ip("2001:db8::12"), port: 53, forwarding: .masquerade)]),
                (signalling6, [RealServer(address: ip("2001:db8::40"), port: 5060)]),
                (mark4, [RealServer(address: ip("192.168.4.1"), port: 0)]),
                (mark6, [RealServer(address: ip("2001:db8::30"), port: 0, forwarding: .masquerade, weight: 4)]),
                (
                    tunnels,
                    [
                        RealServer(address: ip("192.168.2.1"), port: 80, forwarding: .tunnel),
                        RealServer(
                            address: ip("192.168.2.2"),
                            port: 80,
                            forwarding: .tunnel,
                            tunnelType: .gue,
                            tunnelPort: 6080
                        ),
                        RealServer(
                            address: ip("192.168.2.3"),
                            port: 80,
                            forwarding: .tunnel,
                            tunnelType: .gue,
                            tunnelPort: 6081,
                            tunnelFlags: .checksum
                        ),
                        RealServer(
                            address: ip("192.168.2.4"),
                            port: 80,
                            forwarding: .tunnel,
                            tunnelType: .gue,
                            tunnelPort: 6082,
                            tunnelFlags: .remoteChecksum
                        ),
                        RealServer(
                            address: ip("192.168.2.5"),
                            port: 80,
                            forwarding: .tunnel,
                            tunnelType: .gre,
                            tunnelFlags: .checksum
                        ),
                        RealServer(address: ip("192.168.2.6"), port: 80, forwarding: .tunnel, tunnelType: .gre),
                        // Mixed family: an IPv6 real server behind an IPv4 service, allowed for tunnels only.
                        RealServer(address: ip("2001:db8::20"), port: 80, forwarding: .tunnel),
                        RealServer(
                            address: ip("2001:db8::21"),
                            port: 80,
                            forwarding: .tunnel,
                            weight: 3,
                            upperThreshold: 10,
                            lowerThreshold: 5,
                            tunnelType: .gue,
                            tunnelPort: 6083,
                            tunnelFlags: .checksum
                        ),
                    ]
                ),
            ]

            var operations: [IPVSOperation] = servers.map { .addService($0.0) }
            for (service, reals) in servers {
                operations += reals.map { .addServer($0, to: service.id) }
            }
            sandbox.client.applyRecordingFailures(operations)

            // The library reads back exactly what it added.
            let readBack = try sandbox.client.libraryConfiguration()
            #expect(readBack.count == servers.count)
            for (service, reals) in servers {
                let found = try #require(readBack[service.id], "service \(service.id) missing")
                #expect(found.0 == service)
                #expect(found.1 == reals.sorted { $0.id < $1.id }, "real servers of \(service.id)")
                #expect(try sandbox.client.service(service.id).virtualServer == service)
            }

            let outputs = try sandbox.ipvsadmOutputs(["-Sn", "-Ln", "-Ln --thresholds"])
            try #require(outputs.count == 3)

            // The oracle: ipvsadm's save format of the same state, written by hand.
            let expectedRules = [
                "-A -t 10.0.0.1:80 -s rr",
                "-a -t 10.0.0.1:80 -r 192.168.1.1:8080 -m -w 0",
                "-a -t 10.0.0.1:80 -r 192.168.1.2:80 -g -w 65535",
                "-a -t 10.0.0.1:80 -r 192.168.1.3:80 -m -w 7",
                "-a -t 10.0.0.1:80 -r 192.168.1.4:80 -g -w 1",
                // ipvsadm 1.31 has no name for bypass forwarding and prints a null string.
                "-a -t 10.0.0.1:80 -r 192.168.1.5:80 (null) -w 1",
                "-A -u 10.0.0.1:53 -s wrr -p 60 -M 255.255.0.0 --pe sip -o",
                "-a -u 10.0.0.1:53 -r 192.168.3.1:53 -m -w 1",
                "-a -u 10.0.0.1:53 -r 192.168.3.2:5353 -g -w 3",
                "-A --sctp-service 10.0.0.1:9999 -s wlc",
                "-a --sctp-service 10.0.0.1:9999 -r 192.168.5.1:9999 -m -w 1",
                "-A -t [2001:db8::1]:443 -s sh -p 100 -M 48 -b sh-fallback,sh-port",
                "-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 2",
                "-a -t [2001:db8::1]:443 -r [2001:db8::11]:8443 -g -w 1",
                "-A -u [2001:db8::1]:53 -s mh -b mh-fallback,mh-port",
                "-a -u [2001:db8::1]:53 -r [2001:db8::12]:53 -m -w 1",
                "-A --sctp-service [2001:db8::2]:5060 -s nq",
                "-a --sctp-service [2001:db8::2]:5060 -r [2001:db8::40]:5060 -g -w 1",
                "-A -f 1 -s lc -p 300 -M 255.255.255.0",
                "-a -f 1 -r 192.168.4.1:0 -g -w 1",
                "-A -f 2 -6 -s dh -p 3600 -M 64",
                "-a -f 2 -6 -r [2001:db8::30]:0 -m -w 4",
                "-A -t 10.0.0.2:80 -s wlc -b flag-3",
                "-a -t 10.0.0.2:80 -r 192.168.2.1:80 -i -w 1 --tun-type ipip",
                "-a -t 10.0.0.2:80 -r 192.168.2.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
                "-a -t 10.0.0.2:80 -r 192.168.2.3:80 -i -w 1 --tun-type gue --tun-port 6081 --tun-csum",
                "-a -t 10.0.0.2:80 -r 192.168.2.4:80 -i -w 1 --tun-type gue --tun-port 6082 --tun-remcsum",
                "-a -t 10.0.0.2:80 -r 192.168.2.5:80 -i -w 1 --tun-type gre --tun-csum",
                "-a -t 10.0.0.2:80 -r 192.168.2.6:80 -i -w 1 --tun-type gre --tun-nocsum",
                "-a -t 10.0.0.2:80 -r [2001:db8::20]:80 -i -w 1 --tun-type ipip",
                "-a -t 10.0.0.2:80 -r [2001:db8::21]:80 -i -w 3 --tun-type gue --tun-port 6083 --tun-csum",
            ]
            #expect(LibraryOracle.lines(outputs[0]) == expectedRules.sorted())

            // The save format cannot tell local forwarding from direct routing; the list format can.
            let listed = Set(LibraryOracle.lines(outputs[1]).map(Self.squeezed))
            for line in [
                "-> 192.168.1.4:80 Local 1 0 0",
                "-> 192.168.1.5:80 (null) 1 0 0",
                "-> 192.168.1.2:80 Route 65535 0 0",
                "-> 192.168.1.1:8080 Masq 0 0 0",
                "-> [2001:db8::20]:80 Tunnel 1 0 0",
            ] {
                #expect(listed.contains(line), "ipvsadm -Ln lacks '\(line)'")
            }

            // Thresholds only show in `--thresholds` (Uthreshold Lthreshold ActiveConn InActConn).
            let thresholds = LibraryOracle.table(outputs[2], columns: 4)
            #expect(thresholds["TCP 10.0.0.1:80 -> 192.168.1.3:80"] == [100, 50, 0, 0])
            #expect(thresholds["TCP 10.0.0.1:80 -> 192.168.1.1:8080"] == [0, 0, 0, 0])
            #expect(thresholds["TCP [2001:db8::1]:443 -> [2001:db8::11]:8443"] == [1000, 0, 0, 0])
            #expect(thresholds["TCP 10.0.0.2:80 -> [2001:db8::21]:80"] == [10, 5, 0, 0])
            #expect(thresholds.count == servers.reduce(0) { $0 + $1.1.count })
        }

        /// Every scheduler of mainline Linux, one namespace each.
        @Test(arguments: Scheduler.known)
        func scheduler(_ scheduler: Scheduler) throws {
            let sandbox = try KernelSandbox()
            let service = VirtualServer(id: tcp("10.1.0.1", 80), scheduler: scheduler)
            do {
                try sandbox.client.perform(.addService(service))
            } catch {
                // Only `twos` (Linux 5.5+, CONFIG_IP_VS_TWOS, off in Debian's 6.1) may be missing; then ipvsadm
                // cannot add it either.
                try #require(scheduler == .twoRandomChoices, "\(error)")
                #expect(error.code == .schedulerUnavailable)
                #expect(error.errno == ENOENT)
                let oracle = try sandbox.runAllowingFailure(["ipvsadm", "-A", "-t", "10.1.0.1:80", "-s", "twos"])
                #expect(oracle.status != 0)
                #expect(oracle.stderr.contains("Scheduler or persistence engine not found"))
                #expect(try sandbox.client.services().isEmpty)
                return
            }
            #expect(try sandbox.client.services().map(\.virtualServer) == [service])
            #expect(try sandbox.ipvsadmSaveLines() == ["-A -t 10.1.0.1:80 -s \(scheduler.rawValue)"])
        }

        /// A line with its runs of blanks squeezed to one space.
        static func squeezed(_ line: String) -> String {
            line.split(separator: " ").joined(separator: " ")
        }
    }
}
