import AgentAPI
import Foundation
import Testing

/// The text tables `ipvsctl agent` prints, for small fixed inputs.
@Suite struct AgentTextTests {
    @Test func readyStatus() {
        let status = AgentStatus(
            version: "0.2.0",
            ready: true,
            uptimeSeconds: 3725,
            manifests: "/etc/ipvsd/manifests",
            manifestErrors: [],
            virtualServers: 4,
            realServers: 8,
            drainingRealServers: 1,
            conflicts: ["10.96.100.50:80/tcp"],
            lastSync: SyncReport(
                kind: "incremental",
                atSeconds: 3700,
                durationSeconds: 0.25,
                operations: 1,
                failures: 0
            ),
            lastFullSync: SyncReport(
                kind: "full",
                atSeconds: 3600,
                durationSeconds: 0.0125,
                operations: 12,
                failures: 0
            ),
            lastError: nil
        )
        #expect(
            AgentText.status(status) == """
                ipvsd 0.2.0, up 1h02m, ready
                manifests: /etc/ipvsd/manifests
                programmed: 4 virtual servers, 8 real servers (1 draining)
                last sync: incremental, 25s ago, 250.000 ms, 1 operations, 0 failed
                last full sync: full, 2m05s ago, 12.500 ms, 12 operations, 0 failed
                conflict: 10.96.100.50:80/tcp is owned by another tool; left alone

                """
        )
    }

    @Test func notReadyStatusWithErrors() {
        var status = AgentStatus(
            version: "0.2.0",
            ready: false,
            uptimeSeconds: 42.9,
            manifests: "/etc/ipvsd/manifests",
            manifestErrors: ["services.yaml:11: spec.ports[0].port: must be an integer 1...65535, got \"eighty\""],
            virtualServers: 0,
            realServers: 0,
            drainingRealServers: 0,
            conflicts: [],
            lastSync: nil,
            lastFullSync: nil,
            lastError: "3 of 12 operations failed"
        )
        status.running = RunningSync(kind: "full", step: "applying changes", seconds: 41.5, stepSeconds: 12.2)
        #expect(
            AgentText.status(status) == """
                ipvsd 0.2.0, up 42s, NOT READY
                manifests: /etc/ipvsd/manifests
                programmed: 0 virtual servers, 0 real servers
                syncing now: full, applying changes for 12s, started 41s ago
                last error: 3 of 12 operations failed
                manifest errors (the previous state stays programmed):
                  services.yaml:11: spec.ports[0].port: must be an integer 1...65535, got "eighty"

                """
        )
    }

    /// A reload reading a large file names the file, its place and its size while it runs.
    @Test func loadingManifestsStatus() throws {
        var status = AgentStatus(
            version: "0.2.0",
            ready: true,
            uptimeSeconds: 80,
            manifests: "/etc/ipvsd/manifests",
            manifestErrors: [],
            virtualServers: 300,
            realServers: 300,
            drainingRealServers: 0,
            conflicts: [],
            lastSync: nil,
            lastFullSync: nil,
            lastError: nil
        )
        status.loading = ManifestLoad(
            kind: "full",
            seconds: 14.2,
            file: .init(path: "/etc/ipvsd/manifests/big.yaml", bytes: 62_914_560, index: 2, count: 301, seconds: 12.9)
        )
        #expect(
            AgentText.status(status) == """
                ipvsd 0.2.0, up 1m20s, ready
                manifests: /etc/ipvsd/manifests
                programmed: 300 virtual servers, 300 real servers
                loading manifests now: full, started 14s ago, file 3 of 301 for 12s: /etc/ipvsd/manifests/big.yaml (60.0 MiB)

                """
        )
        // Before the first file (listing) there is no file part; JSON carries the same and reads back.
        status.loading = ManifestLoad(kind: "incremental", seconds: 0.4, file: nil)
        #expect(AgentText.status(status).contains("loading manifests now: incremental, started 0s ago\n"))
        let decoded = try JSONDecoder().decode(AgentStatus.self, from: JSONEncoder().encode(status))
        #expect(decoded == status)
        #expect(AgentText.size(512) == "512 bytes")
        #expect(AgentText.size(1536) == "1.5 KiB")
        #expect(AgentText.size(64 << 20) == "64.0 MiB")
    }

    @Test func kubernetesSourceStatus() {
        var status = AgentStatus(
            version: "0.2.0",
            ready: true,
            uptimeSeconds: 5,
            manifests: "Kubernetes API",
            manifestErrors: [],
            virtualServers: 1,
            realServers: 2,
            drainingRealServers: 0,
            conflicts: [],
            lastSync: nil,
            lastFullSync: nil,
            lastError: nil
        )
        status.kubernetes = [
            KubernetesResourceStatus(
                resource: "services",
                state: "watching",
                synced: true,
                resourceVersion: "812",
                watchRestarts: 2,
                relists: 0,
                apiErrors: 0,
                rejectedObjects: 1,
                lastError: nil
            ),
            KubernetesResourceStatus(
                resource: "endpointslices",
                state: "backing-off",
                synced: false,
                resourceVersion: "",
                watchRestarts: 0,
                relists: 0,
                apiErrors: 3,
                rejectedObjects: 0,
                lastError: "GET /apis/discovery.k8s.io/v1/endpointslices answered 403"
            ),
        ]
        #expect(
            AgentText.status(status) == """
                ipvsd 0.2.0, up 5s, ready
                manifests: Kubernetes API
                programmed: 1 virtual servers, 2 real servers
                kubernetes services: watching at 812, 2 watch restarts, 0 relists, 0 API errors, 1 rejected
                kubernetes endpointslices: backing-off (not listed yet), 0 watch restarts, 0 relists, 3 API errors, \
                0 rejected; last error: GET /apis/discovery.k8s.io/v1/endpointslices answered 403

                """
        )
    }

    @Test func services() {
        let serving = RealServerView(
            address: "10.244.2.21:8080",
            state: "serving",
            desiredWeight: 1,
            programmedWeight: 1,
            conditions: "ready,serving",
            health: "up",
            drainingSeconds: nil,
            target: "default/backend-api-5c4b-x"
        )
        let draining = RealServerView(
            address: "10.244.2.22:8080",
            state: "draining",
            desiredWeight: nil,
            programmedWeight: 0,
            conditions: "",
            health: "",
            drainingSeconds: 12.7,
            target: "default/backend-api-5c4b-y"
        )
        let pending = RealServerView(
            address: "10.244.3.1:443",
            state: "pending",
            desiredWeight: 5,
            programmedWeight: nil,
            conditions: "ready,serving",
            health: "unknown",
            drainingSeconds: nil,
            target: ""
        )
        let views = [
            ServiceView(
                virtualServer: "10.96.100.50:80/tcp",
                origin: "default/backend-api:http",
                desired: "rr",
                programmed: "rr",
                conflict: false,
                realServers: [serving, draining]
            ),
            ServiceView(
                virtualServer: "10.96.0.10:53/udp",
                origin: "kube-system/dns:dns",
                desired: "rr",
                programmed: "",
                conflict: false,
                realServers: []
            ),
            ServiceView(
                virtualServer: "10.96.100.50:9090/tcp",
                origin: "default/backend-api:metrics",
                desired: "rr",
                programmed: "",
                conflict: true,
                realServers: []
            ),
            ServiceView(
                virtualServer: "10.96.0.20:443/tcp",
                origin: "web/shop:https",
                desired: "rr persistent 10800",
                programmed: "rr",
                conflict: false,
                realServers: [pending]
            ),
            ServiceView(
                virtualServer: "10.96.0.30:80/tcp",
                origin: "",
                desired: "",
                programmed: "rr",
                conflict: false,
                realServers: []
            ),
        ]
        let header = "  -> RealServer  State  Weight  Health  Conditions    Target\n"
        #expect(
            AgentText.services(views) == """
                10.96.100.50:80/tcp  default/backend-api:http  rr
                  -> RealServer        State     Weight  Health  Conditions                   Target
                  -> 10.244.2.21:8080  serving   1/1     up      ready,serving                default/backend-api-5c4b-x
                  -> 10.244.2.22:8080  draining  -/0     -       -              draining 12s  default/backend-api-5c4b-y
                10.96.0.10:53/udp  kube-system/dns:dns  desired rr, not programmed

                """ + header + """
                    10.96.100.50:9090/tcp  default/backend-api:metrics  CONFLICT: owned by another tool

                    """ + header + """
                    10.96.0.20:443/tcp  web/shop:https  desired rr persistent 10800, programmed rr
                      -> RealServer      State    Weight  Health   Conditions       Target
                      -> 10.244.3.1:443  pending  5/-     unknown  ready,serving
                    10.96.0.30:80/tcp  (no longer desired)

                    """ + header
        )
    }

    @Test func health() {
        let views = [
            HealthView(
                target: "tcp 10.244.1.11:8080",
                state: "down",
                lastResult: "connection refused",
                sinceSeconds: 75.5,
                consecutive: 3,
                usedBy: ["10.96.0.1:80/tcp -> 10.244.1.11:8080"]
            ),
            HealthView(
                target: "http 10.244.2.21:8080/healthz",
                state: "up",
                lastResult: "ok",
                sinceSeconds: 5,
                consecutive: 12,
                usedBy: ["10.96.100.50:80/tcp -> 10.244.2.21:8080", "10.96.100.50:9090/tcp -> 10.244.2.21:8080"]
            ),
        ]
        let expected = [
            "Target                         State  Last result         Since  Count  Used by",
            "tcp 10.244.1.11:8080           down   connection refused  1m15s  3      10.96.0.1:80/tcp -> 10.244.1.11:8080",
            "http 10.244.2.21:8080/healthz  up     ok                  5s     12     "
                + "10.96.100.50:80/tcp -> 10.244.2.21:8080, 10.96.100.50:9090/tcp -> 10.244.2.21:8080",
        ]
        #expect(AgentText.health(views) == expected.map { $0 + "\n" }.joined())
        #expect(AgentText.health([]) == "Target  State  Last result  Since  Count  Used by\n")
    }
}
