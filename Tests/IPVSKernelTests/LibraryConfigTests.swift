import Foundation
import IPVS
import Testing

extension LibraryKernelTests {
    /// Timeouts, sync daemons and the version information, compared with ipvsadm.
    @Suite
    struct LibraryConfigTests: LibrarySuite {
        @Test func timeouts() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            // A fresh namespace has the kernel's defaults.
            #expect(try client.timeouts() == Timeouts(tcp: 900, tcpFin: 120, udp: 300))

            try client.perform(.setTimeouts(Timeouts(tcp: 100, tcpFin: 20, udp: 30)))
            #expect(try client.timeouts() == Timeouts(tcp: 100, tcpFin: 20, udp: 30))

            // 0 leaves a value as it is.
            try client.perform(.setTimeouts(Timeouts(udp: 45)))
            #expect(try client.timeouts() == Timeouts(tcp: 100, tcpFin: 20, udp: 45))
            #expect(try sandbox.ipvsadm("-L", "--timeout") == "Timeout (tcp tcpfin udp): 100 20 45\n")
        }

        @Test func syncDaemons() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            #expect(try client.daemons().isEmpty)

            let master = SyncDaemon(
                state: .master,
                interface: "lo",
                syncID: 7,
                maximumLength: 1000,
                multicastGroup: ip("239.1.2.3"),
                multicastPort: 9000,
                multicastTTL: 3
            )
            try client.perform(.startDaemon(master))
            try client.perform(.startDaemon(SyncDaemon(state: .backup, interface: "lo", syncID: 200)))

            // The kernel fills in what was not given: group 224.0.0.81, port 8848, TTL 1, a length from lo's MTU.
            let backup = SyncDaemon(
                state: .backup,
                interface: "lo",
                syncID: 200,
                maximumLength: 65507,
                multicastGroup: ip("224.0.0.81"),
                multicastPort: 8848,
                multicastTTL: 1
            )
            #expect(try client.daemons() == [master, backup])
            #expect(
                try sandbox.ipvsadm("-L", "--daemon")
                    == """
                    master sync daemon (mcast=lo, syncid=7, maxlen=1000, group=239.1.2.3, port=9000, ttl=3)
                    backup sync daemon (mcast=lo, syncid=200, maxlen=65507, group=224.0.0.81, port=8848, ttl=1)

                    """
            )

            // Starting a running daemon again, stopping a stopped one.
            let again = #expect(throws: IPVSError.self) { try client.perform(.startDaemon(master)) }
            #expect(again?.code == .alreadyExists)
            #expect(again?.errno == EEXIST)

            try client.perform(.stopDaemon(.backup))
            #expect(try client.daemons() == [master])
            let stopped = #expect(throws: IPVSError.self) { try client.perform(.stopDaemon(.backup)) }
            #expect(stopped?.code == .notFound)
            #expect(stopped?.errno == ESRCH)

            // An IPv6 multicast group.
            let backup6 = SyncDaemon(
                state: .backup,
                interface: "lo",
                syncID: 1,
                maximumLength: 1400,
                multicastGroup: ip("ff02::1:2"),
                multicastPort: 9100,
                multicastTTL: 2
            )
            try client.perform(.startDaemon(backup6))
            #expect(try client.daemons() == [master, backup6])

            try client.perform(.stopDaemon(.master))
            #expect(try client.daemons() == [backup6])
            #expect(
                try sandbox.ipvsadm("-L", "--daemon")
                    == "backup sync daemon (mcast=lo, syncid=1, maxlen=1400, group=ff02::1:2, port=9100, ttl=2)\n"
            )
            try client.perform(.stopDaemon(.backup))
            #expect(try client.daemons().isEmpty)
            #expect(try sandbox.ipvsadm("-L", "--daemon") == "")
        }

        @Test func daemonOnMissingInterface() throws {
            let sandbox = try KernelSandbox()
            let error = #expect(throws: IPVSError.self) {
                try sandbox.client.perform(.startDaemon(SyncDaemon(state: .master, interface: "nosuch0")))
            }
            #expect(error?.errno == ENODEV)
            #expect(try sandbox.client.daemons().isEmpty)
        }

        @Test func info() throws {
            let sandbox = try KernelSandbox()
            let info = try sandbox.client.info()
            #expect(info.versionCode == 0x01_02_01)
            #expect(info.version == "1.2.1")
            #expect(info.connectionTableSize > 0)
            let header = try sandbox.ipvsadm("-Ln").split(separator: "\n").first.map(String.init)
            #expect(header == "IP Virtual Server version 1.2.1 (size=\(info.connectionTableSize))")
        }
    }
}
