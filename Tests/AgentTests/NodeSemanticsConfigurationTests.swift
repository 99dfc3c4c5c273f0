import Agent
import IPVS
import KubernetesManifests
import ServiceTables
import Testing

/// The config keys and flags of issue 12: node identity, zone, masquerade and node port addresses.
@Suite struct NodeSemanticsConfigurationTests {
    @Test func defaultsAndValuesAreRead() throws {
        let defaults = AgentConfiguration()
        #expect(defaults.masquerade == .hairpin && defaults.nodeName == "" && defaults.zone == "")
        #expect(defaults.nodePortAddresses == [])
        let config = try AgentConfiguration.parse(
            """
            nodeName: worker-1.example
            zone: eu-west-1a
            masquerade: all
            nodePortAddresses: [192.168.0.0/16, "fd00::/8"]
            """,
            file: "ipvsd.yaml"
        )
        #expect(config.nodeName == "worker-1.example" && config.zone == "eu-west-1a")
        #expect(config.masquerade == .all && config.nodePortAddresses == ["192.168.0.0/16", "fd00::/8"])
        #expect(try AgentConfiguration.parse("masquerade: none", file: "ipvsd.yaml").masquerade == .none)
    }

    @Test func badValuesNameTheKey() {
        #expect(errors("masquerade: some") == ["ipvsd.yaml:1: masquerade: must be hairpin, all or none, got \"some\""])
        #expect(errors("nodeName: Worker_1").first?.contains("nodeName: must be a node name") == true)
        #expect(errors("zone: \"-a\"").first?.contains("zone: must be a label value") == true)
        #expect(errors("nodePortAddresses: [10.0.0.0/33]").first?.contains("must be a CIDR") == true)
        // IPVS connection tracking off would make the masquerade rules miss every IPVS packet.
        let conntrack = errors("sysctls: {conntrack: false}")
        #expect(
            conntrack.count == 1 && conntrack[0].contains("sysctls.conntrack: must be true when masquerade is hairpin")
        )
        #expect(errors("masquerade: none\nsysctls: {conntrack: false}") == [])
        #expect(errors("sysctls: {manage: false, conntrack: false}") == [])
    }

    @Test func nodeNameComesFromTheFlagThenTheConfigThenNODE_NAMEThenTheHostName() throws {
        var config = AgentConfiguration()
        try config.resolveNodeName(flag: nil, environment: ["NODE_NAME": "from-env"], hostName: "Host")
        #expect(config.nodeName == "from-env")
        config = AgentConfiguration()
        config.nodeName = "from-config"
        try config.resolveNodeName(flag: nil, environment: ["NODE_NAME": "from-env"], hostName: "host")
        #expect(config.nodeName == "from-config")
        try config.resolveNodeName(flag: "from-flag", environment: [:], hostName: "host")
        #expect(config.nodeName == "from-flag")
        config = AgentConfiguration()
        try config.resolveNodeName(flag: nil, environment: [:], hostName: "Worker-7")
        #expect(config.nodeName == "worker-7")
        config = AgentConfiguration()
        try config.resolveNodeName(flag: nil, environment: [:], hostName: "not a node name")
        #expect(config.nodeName == "")
        #expect(throws: AgentError.self) {
            var bad = AgentConfiguration()
            try bad.resolveNodeName(flag: "UPPER", environment: [:], hostName: nil)
        }
        #expect(throws: AgentError.self) {
            var bad = AgentConfiguration()
            try bad.resolveNodeName(flag: nil, environment: ["NODE_NAME": "a/b"], hostName: nil)
        }
    }
}
