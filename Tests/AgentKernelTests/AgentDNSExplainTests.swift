import Foundation
import TestSupport
import Testing

/// The seed's flow end to end on the real kernel: a client in its own namespace resolves a Service's name
/// through ipvsd's DNS responder and reaches the Service through IPVS; a headless Service resolves to its
/// endpoints; `ipvsctl explain` passes on the working Service and fails on one whose selector matches nothing.
/// One agent start for all of it: each costs seconds in the VM.
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentDNSExplainTests {
    static let vip = "10.96.77.30"
    static let emptyVIP = "10.96.77.31"
    /// The load-balancer namespace's address toward the client, where DNS listens.
    static let dnsAddress = "10.250.100.1"

    @Test func clientResolvesAndReachesTheServiceAndExplainJudgesIt() throws {
        let lab = try AgentLab()
        let client = "ac\(lab.tag)"
        try AgentLab.shell(
            """
            set -e
            ip netns add \(client)
            ip -n \(lab.lbNamespace) link add vc type veth peer name eth0 netns \(client)
            ip -n \(lab.lbNamespace) addr add \(Self.dnsAddress)/24 dev vc
            ip -n \(lab.lbNamespace) link set vc up
            ip -n \(client) link set lo up
            ip -n \(client) addr add 10.250.100.2/24 dev eth0
            ip -n \(client) link set eth0 up
            ip -n \(client) route add default via \(Self.dnsAddress)
            ip netns exec \(lab.lbNamespace) sysctl -qw net.ipv4.ip_forward=1
            mkdir -p \(lab.directory)/client
            printf 'nameserver \(Self.dnsAddress)\\nsearch lab.svc.cluster.local svc.cluster.local cluster.local\\noptions ndots:5\\n' \\
              > \(lab.directory)/client/resolv.conf
            """
        )
        defer { _ = try? AgentLab.shell("ip netns del \(client)") }
        try lab.writeConfig(healthInterval: "500ms", dns: "{listen: \(Self.dnsAddress):53, domain: cluster.local}")
        try lab.writeService(clusterIP: Self.vip, backends: [0, 1])
        try lab.writeManifest(
            "empty.yaml",
            """
            apiVersion: v1
            kind: Service
            metadata: {name: empty, namespace: lab}
            spec:
              clusterIP: \(Self.emptyVIP)
              selector: {app: nothing}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            """
        )
        try lab.writeManifest(
            "headless.yaml",
            """
            apiVersion: v1
            kind: Service
            metadata: {name: db, namespace: lab}
            spec:
              clusterIP: None
              ports:
              - {name: http, port: 8080}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: db-1, namespace: lab, labels: {kubernetes.io/service-name: db}}
            addressType: IPv4
            ports:
            - {name: http, protocol: TCP, port: 8080}
            endpoints:
            - addresses: [\(lab.backends[0].address)]
              conditions: {ready: true}
            - addresses: [\(lab.backends[1].address)]
              conditions: {ready: true}
            """
        )
        try lab.startAgent()
        let programmed = try lab.waitUntil(.seconds(20)) { try lab.rules().count == 4 }
        #expect(programmed, "not programmed: \((try? lab.rules()) ?? [])\n\(lab.log)")

        // In the client namespace, with a resolv.conf naming ipvsd (bound over /etc/resolv.conf in a mount
        // namespace of its own: the VM's root is read-only).
        func inClient(_ command: String) throws -> String {
            try AgentLab.run([
                "ip", "netns", "exec", client, "unshare", "-m", "sh", "-c",
                "mount --bind \(lab.directory)/client/resolv.conf /etc/resolv.conf && \(command)",
            ])
        }
        let answered = try lab.waitUntil(.seconds(10)) {
            (try? inClient("dig +short +time=2 +tries=1 web.lab.svc.cluster.local")) == "\(Self.vip)\n"
        }
        #expect(answered, "dig: \((try? inClient("dig +time=2 +tries=1 web.lab.svc.cluster.local")) ?? "")\n\(lab.log)")
        let headless = try inClient("dig +short +time=2 +tries=1 db.lab.svc.cluster.local")
        #expect(
            Set(headless.split(separator: "\n").map(String.init)) == Set(lab.backends.map(\.address)),
            "headless: \(headless)"
        )
        // curl resolves through the C library (resolv.conf, the search list) and connects through IPVS.
        var seen: Set<String> = []
        for _ in 0..<4 {
            let body = try inClient("curl -s --max-time 5 http://web.lab.svc.cluster.local/")
            seen.insert(body.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(seen == Set(lab.backends.map(\.name)), "answers: \(seen)")
        // The short name, through resolv.conf's search list.
        let short = try inClient("curl -s --max-time 5 http://web/").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(lab.backends.map(\.name).contains(short), "http://web/ answered \(short)")

        // explain on the working Service: every check passes (exit 0), the kernel one included.
        let ipvsctl = ChildProcess.builtProduct("ipvsctl")
        let good = try ChildProcess.run(ipvsctl, ["explain", "lab/web", "--socket", lab.socket])
        #expect(good.status == 0, "\(good)")
        #expect(good.stdout.contains("OK    kernel"), "\(good)")
        #expect(good.stdout.contains("\(Self.vip) is bound as a local route"), "\(good)")
        // A Service whose selector matches nothing: FAIL with the cause, and exit status 1. (Asked by its
        // ClusterIP:port, the other spelling.)
        let empty = try ChildProcess.run(ipvsctl, ["explain", "\(Self.emptyVIP):80", "--socket", lab.socket])
        #expect(empty.status == 1, "\(empty)")
        #expect(
            empty.stdout.contains("FAIL  endpoints    \(Self.emptyVIP):80/tcp: no endpoints; fix: the selector"),
            "\(empty)"
        )
    }
}
