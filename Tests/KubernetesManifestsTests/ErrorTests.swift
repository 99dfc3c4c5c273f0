import KubernetesManifests
import Testing

@Suite struct ErrorTests {
    @Test func reportsEveryBadFieldWithFileLineAndPath() {
        let text = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              annotations:
                ipvsd.io/scheduler: fastest
                ipvsd.io/health-interval: soon
            spec:
              clusterIP: 10.96.0.300
              ipFamilies: [IPv5]
              sessionAffinity: ClientIP
              sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}
              ports:
              - {name: http, port: 80}
              - {name: web, port: eighty, protocol: ICMP}
            """
        let errors = parseErrors(text, file: "services.yaml")
        #expect(
            errors.contains(
                "services.yaml:6: metadata.annotations[ipvsd.io/scheduler]: must be one of rr, wrr, lc, wlc, lblc, "
                    + "lblcr, dh, sh, sed, nq, fo, ovf, mh, twos, got \"fastest\""
            )
        )
        #expect(
            errors.contains(
                "services.yaml:7: metadata.annotations[ipvsd.io/health-interval]: must be a positive duration such as "
                    + "500ms, 2s or 1m, got \"soon\""
            )
        )
        #expect(errors.contains("services.yaml:15: spec.ports[1].protocol: must be TCP, UDP or SCTP, got \"ICMP\""))
        #expect(
            errors.contains(
                "services.yaml:9: spec.clusterIP: must be an IP address, \"None\" or empty, got \"10.96.0.300\""
            )
        )
        #expect(errors.contains("services.yaml:10: spec.ipFamilies[0]: must be IPv4 or IPv6, got \"IPv5\""))
        #expect(
            errors.contains(
                "services.yaml:12: spec.sessionAffinityConfig.clientIP.timeoutSeconds: must be an integer 1...86400, got 0"
            )
        )
        #expect(errors.count == 6)
    }

    @Test func portMustBeAnInteger() {
        let text = """
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              ports:
              - {name: a, port: 80}
              - name: b
                port: eighty
            """
        #expect(
            parseErrors(text, file: "services.yaml") == [
                "services.yaml:8: spec.ports[1].port: must be an integer 1...65535, got \"eighty\""
            ]
        )
    }

    /// The annotation takes the kernel's weights (as Debian's ipvsadm does): both edges of the range.
    @Test(arguments: [("0", true), ("2147483647", true), ("-1", false), ("2147483648", false)])
    func weightAnnotationTakesTheKernelsRange(weight: String, valid: Bool) {
        let text = """
            apiVersion: v1
            kind: Service
            metadata: {name: web, annotations: {ipvsd.io/weight: "\(weight)"}}
            spec: {ports: [{port: 80}]}
            """
        let expected =
            valid
            ? []
            : [
                "services.yaml:3: metadata.annotations[ipvsd.io/weight]: must be an integer 0...2147483647,"
                    + " got \"\(weight)\""
            ]
        #expect(parseErrors(text, file: "services.yaml") == expected)
    }

    @Test func endpointAddressMustMatchTheSliceFamilyAndDuplicatesAreErrors() {
        let text = """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: s, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            endpoints:
            - addresses: ["fd00::1"]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {ports: [{port: 80}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec: {ports: [{port: 81}]}
            """
        #expect(
            parseErrors(text) == [
                "test.yaml:6: endpoints[0].addresses[0]: must be an IPv4 address, got \"fd00::1\"",
                "test.yaml:15: metadata.name: duplicate Service default/web, first defined at test.yaml:8",
            ]
        )
    }

    @Test func syntaxErrorsAndMissingFieldsNameTheLine() {
        let syntax = parseErrors("kind: Service\napiVersion: v1\nmetadata: {name: [x\n")
        #expect(syntax.count == 1)
        #expect(syntax.first?.hasPrefix("test.yaml:4: invalid YAML: ") == true)
        #expect(
            parseErrors("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n") == ["test.yaml:1: spec: is required"]
        )
    }

    @Test func unknownKindsAreNotesNotErrors() throws {
        let set = try ManifestLoader.parse(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
            file: "deploy.yaml"
        )
        #expect(set.notes == ["deploy.yaml:1: skipped apps/v1 Deployment web"])
        #expect(set.services.isEmpty)
    }
}
