import Foundation
import TestSupport
import Testing

/// The real `ipvsd` binary on the real kernel: manifests in, IPVS rules and traffic out.
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentEndToEndTests {
    static let vip = "10.96.77.10"

    /// Loads a Service, balances real traffic across both backends, applies an endpoint change within
    /// seconds without a restart, and survives an invalid manifest with the previous state intact.
    @Test func programsBalancesUpdatesAndKeepsStateOnBadInput() throws {
        let lab = try AgentLab()
        try lab.writeService(clusterIP: Self.vip, backends: [0, 1])
        try lab.startAgent()
        let programmed = try lab.waitUntil(.seconds(20)) { try lab.rules().count == 3 }
        #expect(
            programmed,
            "ipvsd did not program the service: \((try? lab.rules()).map { "\($0)" } ?? "")\n\(lab.log)"
        )
        let (be1, be2) = (lab.backends[0], lab.backends[1])
        #expect(
            try lab.rules() == [
                "-A -t \(Self.vip):80 -s rr",
                "-a -t \(Self.vip):80 -r \(be1.address):8080 -m -w 1",
                "-a -t \(Self.vip):80 -r \(be2.address):8080 -m -w 1",
            ]
        )
        // Bound as a local route (ipvsd's protocol 168), not an address: the traffic below reaches it anyway.
        #expect(try lab.localRoutes().contains("local \(Self.vip) "), "\((try? lab.localRoutes()) ?? "")")
        #expect(try !lab.addresses().contains(Self.vip))

        let spread = try lab.requests("http://\(Self.vip)/", count: 8)
        // Round robin across both; not exactly 4/4, as the kernel may reschedule a reused client port.
        #expect(spread.keys.sorted() == [be1.name, be2.name].sorted() && spread.values.reduce(0, +) == 8, "\(spread)")
        #expect(spread.values.allSatisfy { $0 >= 2 }, "\(spread)")

        // Endpoint change: backend 2 leaves the slice. TCP: weight 0 first (drain), then deleted.
        try lab.writeService(clusterIP: Self.vip, backends: [0])
        let drained = try lab.waitUntil(.seconds(5)) {
            try lab.rules().contains("-a -t \(Self.vip):80 -r \(be2.address):8080 -m -w 0")
                || !lab.rules().contains { $0.contains(be2.address) }
        }
        #expect(drained, "endpoint removal not applied within 5 s: \((try? lab.rules()).map { "\($0)" } ?? "")")
        #expect(try lab.requests("http://\(Self.vip)/", count: 4) == [be1.name: 4])
        let deleted = try lab.waitUntil(.seconds(10)) { try lab.rules().count == 2 }
        #expect(deleted, "drained server not deleted: \((try? lab.rules()).map { "\($0)" } ?? "")")

        // Invalid manifest: reported, and nothing changes in the kernel.
        let before = try lab.rules()
        try lab.writeManifest(
            "broken.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports:\n  - {port: eighty}\n"
        )
        let reported = try lab.waitUntil(.seconds(5)) {
            try lab.ipvsctl("agent", "status", "--socket", lab.socket).contains("broken.yaml:6")
        }
        #expect(
            reported,
            "manifest error not shown: \((try? lab.ipvsctl("agent", "status", "--socket", lab.socket)).map { "\($0)" } ?? "")"
        )
        #expect(try lab.rules() == before)
        #expect(try lab.requests("http://\(Self.vip)/", count: 2) == [be1.name: 2])
        lab.stopAgent()
    }

    /// Releases before local routes bound each VIP as an address on the interface, and a kill while the agent
    /// moves one leaves it both ways. Either way the agent ends with the VIP as a local route, no address, and
    /// traffic through it.
    @Test func addressesOfAnEarlierReleaseBecomeRoutes() throws {
        let lab = try AgentLab(backends: 1)
        let (moved, interrupted) = ("10.96.77.30", "10.96.77.31")
        try lab.inLB(
            """
            set -e
            ip link add lab0 type dummy; ip link set lab0 up
            ip addr add \(moved)/32 dev lab0; ip addr add \(interrupted)/32 dev lab0
            ip route prepend local \(interrupted) dev lo table local proto 168 src \(interrupted)
            """
        )
        try lab.writeService(clusterIP: moved, backends: [0], name: "moved", file: "moved.yaml")
        try lab.writeService(clusterIP: interrupted, backends: [0], name: "interrupted", file: "interrupted.yaml")
        try lab.startAgent()
        let programmed = try lab.waitUntil(.seconds(30)) { try lab.rules().count == 4 }
        #expect(programmed, "\((try? lab.rules()).map { "\($0)" } ?? "")\n\(lab.log)")
        let routes = try lab.localRoutes()
        #expect(routes.contains("local \(moved) ") && routes.contains("local \(interrupted) "), "\(routes)")
        let addresses = try lab.addresses()
        #expect(!addresses.contains(moved) && !addresses.contains(interrupted), "\(addresses)")
        for vip in [moved, interrupted] {
            let spread = try lab.requests("http://\(vip)/", count: 2)
            #expect(spread == [lab.backends[0].name: 2], "\(vip): \(spread)")
        }
    }

    /// An agent restart with a connection open keeps the connection and changes nothing in the kernel, even
    /// when it moves the VIP from an address to a local route (an upgrade); a service another tool created
    /// survives the agent and its cleanup.
    @Test func restartKeepsConnectionsAndForeignServices() throws {
        let lab = try AgentLab(backends: 1)
        let backend = lab.backends[0]
        try lab.inLB("ipvsadm -A -t 10.1.1.1:80 -s wlc && ipvsadm -a -t 10.1.1.1:80 -r 10.250.1.2:80 -m")
        try lab.writeManifest(
            "long.yaml",
            """
            apiVersion: v1
            kind: Service
            metadata: {name: long, namespace: lab, annotations: {ipvsd.io/health-check: none}}
            spec:
              clusterIP: \(Self.vip)
              ports:
              - {name: tcp, port: 9000, targetPort: 9000}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: long-1, namespace: lab, labels: {kubernetes.io/service-name: long}}
            addressType: IPv4
            ports:
            - {name: tcp, port: 9000}
            endpoints:
            - addresses: [\(backend.address)]
            """
        )
        // The backend writes what the client sends to a file; the client keeps its connection open. busybox
        // nc -l accepts one connection only, so the service has no health check to take it.
        let received = "\(lab.directory)/received"
        try lab.spawn(["ip", "netns", "exec", backend.name, "busybox", "nc", "-l", "-p", "9000"], output: received)
        try lab.startAgent()
        #expect(
            try lab.waitUntil(.seconds(20)) { try lab.rules().count == 4 },
            "\((try? lab.rules()).map { "\($0)" } ?? "")\n\(lab.log)"
        )
        let fifo = "\(lab.directory)/client"
        // Writers open the FIFO read-write (1<>), so a client that failed to connect cannot block them.
        try AgentLab.shell("mkfifo \(fifo)")
        try lab.spawn([
            "ip", "netns", "exec", lab.lbNamespace, "bash", "-c",
            "exec 3<>/dev/tcp/\(Self.vip)/9000; exec cat <>\(fifo) >&3",
        ])
        // Bounded: a client that failed to connect never opens the FIFO, and a plain write would block.
        try AgentLab.shell("sleep 1; timeout 10 sh -c 'echo before-restart > \(fifo)'")
        #expect(
            try lab.waitUntil(.seconds(5)) {
                (try? String(contentsOfFile: received, encoding: .utf8))?.contains("before-restart") == true
            }
        )
        let rulesBefore = try lab.rules()

        lab.stopAgent()
        #expect(try lab.rules() == rulesBefore, "SIGTERM must leave the rules in place")
        // What releases before local routes left: the VIP as an address on the interface. The restarted agent
        // turns it into a route with no gap, so the open connection below must not notice.
        try lab.inLB(
            "ip route del local \(Self.vip) dev lo table local proto 168 && ip addr add \(Self.vip)/32 dev lab0"
        )
        try lab.startAgent()
        let resynced = try lab.waitUntil(.seconds(20)) {
            (try? lab.ipvsctl("agent", "status", "--socket", lab.socket))?.contains("last full sync: full") == true
        }
        #expect(resynced, "\(lab.log)")
        let status = try lab.ipvsctl("agent", "status", "--socket", lab.socket)
        #expect(status.contains("0 operations, 0 failed"), "restart must change nothing: \(status)")
        #expect(try lab.rules() == rulesBefore)
        #expect(try lab.localRoutes().contains("local \(Self.vip) ") && !lab.addresses().contains(Self.vip))
        try AgentLab.shell("timeout 10 sh -c 'echo after-restart > \(fifo)'")
        let delivered = lab.waitUntil(.seconds(5)) {
            (try? String(contentsOfFile: received, encoding: .utf8))?.contains("after-restart") == true
        }
        #expect(delivered, "the connection opened before the restart no longer carries data")

        lab.stopAgent()
        try AgentLab.run([
            "ip", "netns", "exec", lab.lbNamespace, ChildProcess.builtProduct("ipvsd"), "cleanup", "--config",
            lab.configPath,
        ])
        #expect(try lab.rules() == ["-A -t 10.1.1.1:80 -s wlc", "-a -t 10.1.1.1:80 -r 10.250.1.2:80 -m -w 1"])
    }
}
