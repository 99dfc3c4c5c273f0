// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "IPVSAgent",
    products: [
        .library(name: "IPVS", targets: ["IPVS"]),
        .executable(name: "ipvsctl", targets: ["ipvsctl"]),
        .executable(name: "ipvs-bench", targets: ["ipvs-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // The only C in the project: libnl-3 / libnl-genl-3 and <linux/ip_vs.h>. Only `IPVS` imports it.
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-genl-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-genl-3-dev"])]
        ),
        // Model, wire codec and netlink client for the kernel's IPVS generic-netlink family.
        .target(name: "IPVS", dependencies: ["CNetlink"]),
        // ipvsadm's command syntax, list and save formats, on top of `IPVS`.
        .target(name: "IPVSAdmin", dependencies: ["IPVS"]),
        .executableTarget(
            name: "ipvsctl",
            dependencies: [
                "IPVSAdmin", "IPVS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Speed against the peers (ipvsadm), as ratios measured in one run.
        .executableTarget(
            name: "ipvs-bench",
            dependencies: ["IPVS", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Child processes for tests (the ipvsctl binary, ipvsadm as an oracle).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "IPVSTests", dependencies: ["IPVS"]),
        .testTarget(name: "IPVSAdminTests", dependencies: ["IPVSAdmin", "IPVS", "TestSupport"], exclude: ["Fixtures"]),
        // Needs root and a kernel with ip_vs: run through Tests/vm/run.
        .testTarget(name: "IPVSKernelTests", dependencies: ["IPVS", "IPVSAdmin", "TestSupport"]),
    ]
)
