// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "IPVSAgent",
    products: [
        .library(name: "IPVS", targets: ["IPVS"]),
        .executable(name: "ipvsd", targets: ["ipvsd"]),
        .executable(name: "ipvsctl", targets: ["ipvsctl"]),
        .executable(name: "ipvs-bench", targets: ["ipvs-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/ordo-one/malloc-interposer", from: "1.6.1"),
        // No default traits: they make SwiftPM rebuild Hummingbird between build, build-tests and test.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.10.0", traits: []),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // The only C in the project: libnl-3, libnl-genl-3, libnl-route-3, <linux/ip_vs.h>, and libnftables with
        // libnftnl and libmnl (the agent's masquerade table: its rules in nft's language, its set elements as
        // nftables' netlink messages).
        // Only `IPVS` imports it.
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-genl-3.0 libnl-route-3.0 libnftables libnftnl libmnl",
            providers: [
                .apt([
                    "libnl-3-dev", "libnl-genl-3-dev", "libnl-route-3-dev", "libnftables-dev", "libnftnl-dev",
                    "libmnl-dev",
                ])
            ]
        ),
        // Kernel access: model, wire codec and netlink client for IPVS; the host network (dummy link,
        // addresses, sysctls).
        .target(name: "IPVS", dependencies: ["CNetlink"]),
        // ipvsadm's command syntax, list and save formats, on top of `IPVS`.
        .target(name: "IPVSAdmin", dependencies: ["IPVS"]),
        // The load-balancer core: the desired and the programmed service tables (`LoadBalancerState`), the
        // planner that diffs them, drains, ownership, health policy. Pure Swift, no C, no I/O of its own.
        .target(name: "ServiceTables", dependencies: ["IPVS"]),
        // What the agent's config file and the manifests share: YAML read with file, line and field path
        // (composed straight from libyaml's events, which Yams builds as its CYaml module), its located error,
        // and the values both spell the same way (Go durations, CIDR networks).
        .target(name: "YAMLSyntax", dependencies: ["IPVS", .product(name: "Yams", package: "Yams")]),
        // Kubernetes Service / EndpointSlice / Endpoints manifests to desired state.
        .target(name: "KubernetesManifests", dependencies: ["YAMLSyntax", "ServiceTables", "IPVS"]),
        // The Kubernetes API's payloads (list pages, watch event lines, Status) decoded by KubernetesManifests'
        // decoders; no I/O. Its own module so the fuzz target instruments no HTTP client.
        .target(
            name: "KubernetesWire",
            dependencies: [
                "KubernetesManifests", "YAMLSyntax", "ServiceTables", .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The Kubernetes API as a source: kubeconfig and in-cluster credentials, paginated lists and resumable
        // watches of Services and EndpointSlices.
        .target(
            name: "KubernetesAPI",
            dependencies: [
                "KubernetesWire", "KubernetesManifests", "YAMLSyntax", "ServiceTables", "IPVS",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Active health probes on SwiftNIO.
        .target(
            name: "HealthCheck",
            dependencies: [
                "ServiceTables", "IPVS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The admin API's payloads, shared by the agent and ipvsctl.
        .target(name: "AgentAPI"),
        // DNS messages, bytes in and bytes out, and an authoritative responder over in-memory zones. Pure
        // Swift with no dependencies, so its fuzz target instruments nothing else.
        .target(name: "DNSCodec"),
        // The agent: wires manifests, tables, reconciler, health and host network under one lifecycle,
        // with metrics and the admin API.
        .target(
            name: "Agent",
            dependencies: [
                "IPVS", "ServiceTables", "YAMLSyntax", "KubernetesManifests", "KubernetesWire", "KubernetesAPI",
                "HealthCheck", "AgentAPI", "DNSCodec",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .executableTarget(
            name: "ipvsd",
            dependencies: [
                "Agent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "ipvsctl",
            dependencies: [
                "IPVSAdmin", "IPVS", "AgentAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Speed against the peers (ipvsadm, keepalived, the kernel's floor), as ratios in one run. A lab beside
        // the product, so it lives under bench/ with the script that runs it and its results.
        .executableTarget(
            name: "ipvs-bench",
            dependencies: [
                "IPVS", "IPVSAdmin", "ServiceTables", "HealthCheck", "AgentAPI", "YAMLSyntax", "KubernetesManifests",
                "KubernetesWire", "KubernetesAPI", "KubernetesStandIn",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ],
            path: "bench/ipvs-bench"
        ),
        // Child processes for tests (the ipvsctl binary, ipvsadm as an oracle) and an in-memory kernel.
        .target(name: "TestSupport", dependencies: ["IPVS"], path: "Tests/TestSupport"),
        // A stand-in Kubernetes API server (list, watch, bookmarks, 410, continue tokens) over TLS, for tests.
        .target(
            name: "KubernetesStandIn",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/KubernetesStandIn"
        ),
        .testTarget(name: "IPVSTests", dependencies: ["IPVS"]),
        .testTarget(name: "IPVSAdminTests", dependencies: ["IPVSAdmin", "IPVS", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ServiceTablesTests", dependencies: ["ServiceTables", "IPVS", "TestSupport"]),
        .testTarget(
            name: "YAMLSyntaxTests",
            dependencies: ["YAMLSyntax", "TestSupport", .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(
            name: "KubernetesManifestsTests",
            dependencies: ["KubernetesManifests", "YAMLSyntax", "ServiceTables", "IPVS", "TestSupport"]
        ),
        .testTarget(
            name: "HealthCheckTests",
            dependencies: [
                "HealthCheck", "ServiceTables", "IPVS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(name: "DNSCodecTests", dependencies: ["DNSCodec"]),
        .testTarget(
            name: "KubernetesAPITests",
            dependencies: [
                "KubernetesAPI", "KubernetesWire", "KubernetesManifests", "ServiceTables", "IPVS", "KubernetesStandIn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "AgentAPI", "ServiceTables", "IPVS", "YAMLSyntax", "KubernetesManifests", "TestSupport",
                "KubernetesAPI", "KubernetesWire", "KubernetesStandIn", "DNSCodec",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Need root and a kernel with ip_vs: run through Tests/vm/run.
        .testTarget(name: "IPVSKernelTests", dependencies: ["IPVS", "IPVSAdmin", "TestSupport"]),
        // Drive the built ipvsd and ipvsctl binaries as child processes (against the stand-in API server for the
        // Kubernetes source): no module of the product is imported.
        .testTarget(name: "AgentKernelTests", dependencies: ["TestSupport", "KubernetesStandIn"]),
    ]
)

// libFuzzer targets, built only by Tests/Fuzz/run (IPVSD_FUZZ=1, `swift build --sanitize=fuzzer`, its own scratch
// path): each has no `main` of its own, libFuzzer's provides it, so an ordinary build could not link them.
// Each depends on as little as it can, since the fuzz build instruments and rebuilds all of it.
if Context.environment["IPVSD_FUZZ"] == "1" {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("fuzz-manifests", ["KubernetesManifests", "YAMLSyntax"]),
        ("fuzz-kubernetes-api", ["KubernetesWire", .product(name: "NIOCore", package: "swift-nio")]),
        ("fuzz-config", ["Agent"]),
        ("fuzz-ipvsadm-rules", ["IPVSAdmin"]),
        ("fuzz-netlink-replies", ["IPVS"]),
        ("fuzz-state-file", ["Agent"]),
        ("fuzz-dns-message", ["DNSCodec"]),
        (
            "fuzz-admin-request",
            [
                "AgentAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
    for target in fuzzTargets {
        package.targets.append(
            .executableTarget(
                name: target.name,
                dependencies: target.dependencies,
                path: "Tests/Fuzz/Targets/\(target.name)"
            )
        )
    }
}
