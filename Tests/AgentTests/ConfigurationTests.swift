import Agent
import IPVS
import KubernetesManifests
import ServiceTables
import TestSupport
import Testing

/// The messages of a config text that does not parse; empty when it parses.
func errors(_ text: String) -> [String] {
    do throws(ConfigurationErrors) {
        _ = try AgentConfiguration.parse(text, file: "ipvsd.yaml")
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

@Suite struct ConfigurationTests {
    @Test func exampleConfigParsesToTheDocumentedValues() throws {
        // deploy/examples/config.yaml: every value but the two set below is the default.
        let example = try RepositoryFiles.text("deploy/examples/config.yaml")
        let config = try AgentConfiguration.parse(example, file: "config.yaml")
        var expected = AgentConfiguration()
        expected.manifests = "deploy/examples/manifests"
        expected.stateFile = "/run/ipvsd-demo/state.json"
        #expect(config == expected)
        // The defaults themselves, as docs/ipvsd.md documents them.
        #expect(config.interface == "ipvs0")
        #expect(config.scheduler == .roundRobin)
        #expect(config.serviceCIDRs == ["10.96.0.0/12"])
        #expect(config.resyncPeriod == .seconds(30))
        #expect(config.debounce == .milliseconds(100))
        #expect(config.watchInterval == .milliseconds(500))
        #expect(config.gracePeriod == .seconds(30))
        #expect(config.drainCheckInterval == .seconds(1))
        #expect(config.metricsAddress == "127.0.0.1:9750")
        #expect(config.adminSocket == "/run/ipvsd/admin.sock")
        #expect(config.sysctls.connReuseMode == 1)
        #expect(config.sysctls.strictARP)
        #expect(config.health.enabled)
        #expect(config.health.spec == HealthCheckSpec(kind: .tcp, interval: .seconds(1), timeout: .seconds(1)))
        #expect(config.health.allDownPolicy == .keepAll)
    }

    @Test func nonDefaultValuesAreRead() throws {
        let config = try AgentConfiguration.parse(
            """
            scheduler: wlc
            serviceCIDRs: [10.100.0.0/16, "fd00:10:96::/112"]
            gracePeriod: 0s
            health:
              kind: http
              path: /healthz
              status: 200-299
              failureAction: weight-zero
              allDown: remove-all
            """,
            file: "ipvsd.yaml"
        )
        #expect(config.scheduler == .weightedLeastConnection)
        #expect(config.serviceCIDRs == ["10.100.0.0/16", "fd00:10:96::/112"])
        #expect(config.gracePeriod == .zero)
        #expect(
            config.health.spec.kind == .http(HealthCheckSpec.HTTPProbe(path: "/healthz", expectedStatus: 200...299))
        )
        #expect(config.health.spec.failureAction == .weightZero)
        #expect(config.health.allDownPolicy == .removeAll)
    }

    @Test(
        arguments: [
            ("interface: ipvs0\nbindAdresses: false\n", "ipvsd.yaml:2: bindAdresses: unknown field"),
            (
                "debounce: 100ms\nresyncPeriod: 30 seconds\n",
                "ipvsd.yaml:2: resyncPeriod: must be a duration such as 500ms, 2s or 1m, got \"30 seconds\""
            ),
            (
                "scheduler: round-robin\n",
                "ipvsd.yaml:1: scheduler: must be one of the kernel's IPVS schedulers rr, wrr, lc, wlc, lblc, "
                    + "lblcr, dh, sh, sed, nq, fo, ovf, mh, twos, got \"round-robin\""
            ),
            (
                "serviceCIDRs:\n- 10.96.0.0/12\n- 10.96.0.0/33\n",
                "ipvsd.yaml:3: serviceCIDRs[1]: must be a CIDR such as 10.96.0.0/12 or fd00:10:96::/112, "
                    + "got \"10.96.0.0/33\""
            ),
            ("health:\n  kind: tcp\n  intervall: 2s\n", "ipvsd.yaml:3: health.intervall: unknown field"),
        ]
    )
    func badValuesAreNamedWithTheirLine(text: String, message: String) {
        #expect(errors(text) == [message])
    }

    @Test func everyProblemIsReportedAtOnce() {
        let found = errors("scheduler: ''\nresyncPeriod: 0s\nweight: -1\ncolour: blue\n")
        #expect(found.count == 4)
        #expect(found.contains("ipvsd.yaml:4: colour: unknown field"))
        #expect(found.contains { $0.hasPrefix("ipvsd.yaml:1: scheduler: ") })
        #expect(found.contains("ipvsd.yaml:2: resyncPeriod: must be from 1s to 24h, got 0s"))
        #expect(found.contains { $0.hasPrefix("ipvsd.yaml:3: weight: ") })
    }
}
