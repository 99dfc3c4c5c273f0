import Foundation
import KubernetesManifests
import Testing
import YAMLSyntax

/// Anchors `a`...`i`: nine levels of nine-element lists, `i` standing for 9^9 strings.
private let aliasLevels: String = {
    var lines = ["a: &a [\(Array(repeating: "\"lol\"", count: 9).joined(separator: ","))]"]
    for (previous, name) in zip("abcdefgh", "bcdefghi") {
        lines.append("\(name): &\(name) [\(Array(repeating: "*\(previous)", count: 9).joined(separator: ","))]")
    }
    return lines.joined(separator: "\n") + "\n"
}()

@Suite struct YAMLLimitsTests {
    @Test func aliasBombAsMappingKeyIsRefusedBeforeComposing() {
        // The issue's file: 351 bytes that cost Yams' duplicate-key check a minute of CPU.
        let bomb = aliasLevels + "? *i\n: x\n"
        #expect(bomb.utf8.count == 351)
        #expect(parseErrors(bomb) == ["test.yaml:10: YAML aliases in mapping keys are not supported"])
    }

    @Test(arguments: ["*i : x\n", "[*i]: x\n", "k: {? *i : x}\n", "? [a, {b: *i}]\n: x\n", "k: {*i : x}\n"])
    func anyAliasInsideAKeyIsRefused(tail: String) {
        #expect(parseErrors(aliasLevels + tail) == ["test.yaml:10: YAML aliases in mapping keys are not supported"])
    }

    @Test func aliasesInStringsAndCommentsAreNotAliases() throws {
        let text = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web # *not: an alias
              annotations: {"*i": "? *i : x", '*j': '*k: y'}
            spec: {ports: [{port: 80}]}

            """
        #expect(parseErrors(text) == [])
    }

    @Test func configParserGetsTheSameCheck() {
        #expect(
            throws: LocatedError(
                file: "ipvsd.yaml",
                line: 10,
                field: "",
                message: "YAML aliases in mapping keys are not supported"
            )
        ) {
            _ = try LocatedYAML.parse(aliasLevels + "? *i\n: x\n", file: "ipvsd.yaml")
        }
    }

    @Test func harmlessAnchorAndAliasStillDecode() throws {
        let text = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              labels: &labels {app: web, tier: front}
            spec:
              selector: *labels
              ports: [{port: 80}]

            """
        let set = try ManifestLoader.parse(text, file: "test.yaml")
        #expect(set.services.map(\.name) == ["web"])
    }

    @Test func nestedListBombSpendsTheBudgetAndReportsItOnce() throws {
        // Lists of lists: the loader walks every item, 9^8 objects from a few hundred bytes.
        var lines = ["apiVersion: v1", "kind: List", "l0: &l0 {apiVersion: v1, kind: List, items: []}"]
        for level in 1...7 {
            let items = Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ", ")
            lines.append("l\(level): &l\(level) {apiVersion: v1, kind: List, items: [\(items)]}")
        }
        lines.append("items: [\(Array(repeating: "*l7", count: 9).joined(separator: ", "))]")
        let errors = parseErrors(lines.joined(separator: "\n") + "\n")
        #expect(errors.count == 1)
        #expect(errors.first?.contains("document too large after alias expansion") == true)
    }

    @Test func aliasedAddressListsSpendTheBudget() {
        // Quadratic rather than exponential: 1,000 endpoints sharing one list of 1,000 addresses.
        let addresses = (0..<1000).map { "10.0.\($0 / 250).\($0 % 250 + 1)" }.joined(separator: ", ")
        let text = """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            shared: &e {addresses: [\(addresses)]}
            endpoints: [\(Array(repeating: "*e", count: 1000).joined(separator: ", "))]

            """
        let errors = parseErrors(text)
        #expect(errors.count == 1)
        #expect(errors.first?.contains("document too large after alias expansion") == true)
    }

    @Test func levelEightBombAsPortsFailsWithoutExpanding() {
        // The decoder reads one level of the aliased list and refuses its elements: nine errors, no walk.
        let text =
            aliasLevels.split(separator: "\n").prefix(8).joined(separator: "\n")
            + "\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: *h}\n"
        let errors = parseErrors(text)
        #expect(errors.count == 9)
        #expect(errors.allSatisfy { $0.hasSuffix("must be a mapping, got a list") })
    }

    @Test func deepFlowNestingIsRefusedCleanly() {
        // libyaml's scanner looks that far ahead and stops at its own limit (1000) first.
        #expect(
            parseErrors(String(repeating: "[", count: 100_000)) == [
                "test.yaml:1: invalid YAML: while parsing, Maximum nesting level reached, set with "
                    + "yaml_set_max_nest_level())"
            ]
        )
        let text = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(parseErrors(text) == ["test.yaml:1: YAML nested deeper than 256 levels is not supported"])
    }

    @Test func deepBlockNestingIsRefusedCleanly() {
        let text = (0..<300).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " 1\n"
        #expect(parseErrors(text) == ["test.yaml:257: YAML nested deeper than 256 levels is not supported"])
    }

    @Test func largeRealisticListStaysWithinBudget() throws {
        let items = (0..<1000).map { index in
            """
              - apiVersion: v1
                kind: Service
                metadata:
                  name: svc-\(index)
                  namespace: team-\(index % 7)
                  labels: {app: svc-\(index), tier: backend}
                  annotations: {ipvsd.io/scheduler: wrr, ipvsd.io/weight: "5"}
                spec:
                  type: ClusterIP
                  clusterIP: 10.96.\(index / 250).\(index % 250 + 1)
                  selector: {app: svc-\(index)}
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                  - {name: https, port: 443, targetPort: 8443, protocol: TCP}
                  sessionAffinity: ClientIP
                  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
            """
        }
        let text = "apiVersion: v1\nkind: List\nitems:\n" + items.joined(separator: "\n") + "\n"
        let set = try ManifestLoader.parse(text, file: "big.yaml")
        #expect(set.services.count == 1000)
    }

    @Test func unlimitedBudgetForHandMadeNodes() throws {
        let doc = try LocatedYAML.parse("a: [1, 2, 3]\n", file: "x.yaml")
        #expect(try doc.list("a")?.count == 3)
        #expect(doc.budget.used > 0)
        #expect(YAMLBudget.unlimited().limit == .max)
    }
}
