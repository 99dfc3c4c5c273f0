import Foundation
import IPVS
import Testing

extension LibraryKernelTests {
    /// Updating, deleting, flushing and zeroing, checked through the library and through ipvsadm.
    @Suite
    struct LibraryUpdateTests: LibrarySuite {
        @Test func updateServiceAndServers() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            let id = tcp("10.2.0.1", 80)
            let first = RealServer(address: ip("192.168.10.1"), port: 80, forwarding: .masquerade)
            let second = RealServer(address: ip("192.168.10.2"), port: 80, forwarding: .tunnel)
            client.applyRecordingFailures([
                .addService(
                    VirtualServer(
                        id: id,
                        scheduler: .sourceHashing,
                        flags: [.persistent, .sourceHashPort],
                        timeout: 60
                    )
                ),
                .addServer(first, to: id),
                .addServer(second, to: id),
            ])

            // A full update: the kernel takes the flags as given, so persistence and sh-port are cleared.
            let updated = VirtualServer(
                id: id,
                scheduler: .weightedRoundRobin,
                flags: [.onePacket],
                netmask: 0xFFFF_FF00
            )
            var firstUpdated = first
            firstUpdated.weight = 5
            firstUpdated.forwarding = .directRouting
            firstUpdated.upperThreshold = 20
            firstUpdated.lowerThreshold = 10
            var secondUpdated = second
            secondUpdated.tunnelType = .gue
            secondUpdated.tunnelPort = 5555
            secondUpdated.tunnelFlags = .remoteChecksum
            secondUpdated.weight = 0
            client.applyRecordingFailures([
                .updateService(updated),
                .updateServer(firstUpdated, in: id),
                .updateServer(secondUpdated, in: id),
            ])

            #expect(try client.service(id).virtualServer == updated)
            // The kernel lists real servers newest first; compare in address order.
            let servers = try client.servers(of: id).map(\.realServer).sorted { $0.id < $1.id }
            #expect(servers == [firstUpdated, secondUpdated])
            let outputs = try sandbox.ipvsadmOutputs(["-Sn", "-Ln --thresholds"])
            #expect(
                LibraryOracle.lines(outputs[0])
                    == [
                        "-A -t 10.2.0.1:80 -s wrr -o",
                        "-a -t 10.2.0.1:80 -r 192.168.10.1:80 -g -w 5",
                        "-a -t 10.2.0.1:80 -r 192.168.10.2:80 -i -w 0 --tun-type gue --tun-port 5555 --tun-remcsum",
                    ].sorted()
            )
            #expect(
                LibraryOracle.table(outputs[1], columns: 4)["TCP 10.2.0.1:80 -> 192.168.10.1:80"] == [20, 10, 0, 0]
            )

            // Delete one real server, then the service.
            try client.perform(.deleteServer(first.id, from: id))
            #expect(try client.servers(of: id).map(\.realServer) == [secondUpdated])
            #expect(
                try sandbox.ipvsadmSaveLines()
                    == [
                        "-A -t 10.2.0.1:80 -s wrr -o",
                        "-a -t 10.2.0.1:80 -r 192.168.10.2:80 -i -w 0 --tun-type gue --tun-port 5555 --tun-remcsum",
                    ].sorted()
            )
            try client.perform(.deleteService(id))
            #expect(try client.services().isEmpty)
            #expect(try sandbox.ipvsadmSaveLines() == [])
        }

        @Test func updateIPv6AndFirewallMarkServices() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            let v6 = tcp("2001:db8::5", 80)
            let mark = VirtualServer.ID.firewallMark(77, .inet6)
            client.applyRecordingFailures([
                .addService(VirtualServer(id: v6)),
                .addService(VirtualServer(id: mark, scheduler: .roundRobin)),
                .addServer(RealServer(address: ip("2001:db8::50"), port: 8080), to: v6),
                .addServer(RealServer(address: ip("2001:db8::51"), port: 0), to: mark),
            ])
            let v6Updated = VirtualServer(
                id: v6,
                scheduler: .maglevHashing,
                flags: [.persistent, .maglevFallback],
                timeout: 30,
                netmask: 96
            )
            let markUpdated = VirtualServer(
                id: mark,
                scheduler: .leastConnection,
                flags: [.persistent],
                timeout: 10,
                netmask: 112
            )
            let serverUpdated = RealServer(address: ip("2001:db8::51"), port: 0, forwarding: .masquerade, weight: 9)
            client.applyRecordingFailures([
                .updateService(v6Updated),
                .updateService(markUpdated),
                .updateServer(serverUpdated, in: mark),
            ])
            #expect(try client.service(v6).virtualServer == v6Updated)
            #expect(try client.service(mark).virtualServer == markUpdated)
            #expect(try client.servers(of: mark).map(\.realServer) == [serverUpdated])
            #expect(
                try sandbox.ipvsadmSaveLines()
                    == [
                        "-A -t [2001:db8::5]:80 -s mh -p 30 -M 96 -b mh-fallback",
                        "-a -t [2001:db8::5]:80 -r [2001:db8::50]:8080 -g -w 1",
                        "-A -f 77 -6 -s lc -p 10 -M 112",
                        "-a -f 77 -6 -r [2001:db8::51]:0 -m -w 9",
                    ].sorted()
            )
        }

        @Test func flushRemovesEverything() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            var operations: [IPVSOperation] = []
            for index in 1...5 {
                let id = udp("10.3.0.\(index)", 53)
                operations.append(.addService(VirtualServer(id: id)))
                operations.append(.addServer(RealServer(address: ip("192.168.30.\(index)"), port: 53), to: id))
            }
            operations.append(.addService(VirtualServer(id: .firewallMark(3, .inet6))))
            client.applyRecordingFailures(operations)
            #expect(try client.services().count == 6)

            try client.perform(.flush)
            #expect(try client.services().isEmpty)
            #expect(try sandbox.ipvsadmSaveLines() == [])
            // Flushing an empty table is fine too.
            try client.perform(.flush)
        }

        @Test func zeroWithoutTraffic() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            let id = tcp("10.4.0.1", 80)
            client.applyRecordingFailures([.addService(VirtualServer(id: id))])
            try client.perform(.zero(nil))
            try client.perform(.zero(id))
            #expect(try client.service(id).statistics == Statistics())
            let error = #expect(throws: IPVSError.self) { try client.perform(.zero(tcp("10.4.0.2", 80))) }
            #expect(error?.code == .notFound)
            #expect(error?.errno == ESRCH)
        }
    }
}
