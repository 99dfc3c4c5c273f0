import Agent
import Foundation
import IPVS
import KubernetesManifests
import Testing

/// Values `ipvsd check` used to accept (issue 10, item 9): each is refused with its line, field and bound.
@Suite struct ConfigurationBoundsTests {
    @Test(
        arguments: [
            ("resyncPeriod: 1ns\n", "ipvsd.yaml:1: resyncPeriod: must be from 1s to 24h, got 1ns"),
            ("watchInterval: 1ns\n", "ipvsd.yaml:1: watchInterval: must be from 100ms to 1h, got 1ns"),
            ("drainCheckInterval: 1ns\n", "ipvsd.yaml:1: drainCheckInterval: must be from 100ms to 1m, got 1ns"),
            ("maxRetryBackoff: 1ns\n", "ipvsd.yaml:1: maxRetryBackoff: must be from 1s to 1h, got 1ns"),
            ("debounce: 1m\n", "ipvsd.yaml:1: debounce: must be from 0s to 10s, got 1m"),
            ("resyncPeriod: 25h\n", "ipvsd.yaml:1: resyncPeriod: must be from 1s to 24h, got 25h"),
            ("gracePeriod: 1000h\n", "ipvsd.yaml:1: gracePeriod: must be from 0s to 24h, got 1000h"),
            ("health:\n  interval: 10ms\n", "ipvsd.yaml:2: health.interval: must be from 100ms to 1h, got 10ms"),
            ("health:\n  timeout: 1ms\n", "ipvsd.yaml:2: health.timeout: must be from 10ms to 1h, got 1ms"),
        ]
    )
    func durationsOutsideTheirBoundsAreRefused(text: String, message: String) {
        #expect(errors(text) == [message])
    }

    @Test func durationsAtTheirBoundsAreAccepted() throws {
        let config = try AgentConfiguration.parse(
            """
            resyncPeriod: 1s
            debounce: 0s
            watchInterval: 100ms
            gracePeriod: 24h
            drainCheckInterval: 1m
            maxRetryBackoff: 1h
            health:
              interval: 100ms
              timeout: 10ms
            """,
            file: "ipvsd.yaml"
        )
        #expect(config.resyncPeriod == .seconds(1))
        #expect(config.debounce == .zero)
        #expect(config.watchInterval == .milliseconds(100))
        #expect(config.gracePeriod == .seconds(24 * 3600))
        #expect(config.drainCheckInterval == .seconds(60))
        #expect(config.maxRetryBackoff == .seconds(3600))
        #expect(config.health.spec.interval == .milliseconds(100))
        #expect(config.health.spec.timeout == .milliseconds(10))
    }

    @Test func schedulerMustBeOneTheKernelHas() {
        #expect(
            errors("scheduler: nosuch\n") == [
                "ipvsd.yaml:1: scheduler: must be one of the kernel's IPVS schedulers rr, wrr, lc, wlc, lblc, lblcr, "
                    + "dh, sh, sed, nq, fo, ovf, mh, twos, got \"nosuch\""
            ]
        )
    }

    @Test(arguments: Scheduler.known)
    func everyKernelSchedulerIsAccepted(scheduler: Scheduler) throws {
        #expect(try AgentConfiguration.parse("scheduler: \(scheduler)\n", file: "ipvsd.yaml").scheduler == scheduler)
    }

    @Test(
        arguments: [
            ("interface: \"a b\"\n", "got byte 0x20"),
            ("interface: \"a\\tb\"\n", "got byte 0x09"),
            ("interface: \"a\\u00a0b\"\n", "got byte 0xA0"),
            ("interface: \"a:1\"\n", "got byte 0x3A"),
            ("interface: a/b\n", "got byte 0x2F"),
            ("interface: \"a\\nb\"\n", "got byte 0x0A"),
            ("interface: \"..\"\n", "must not be . or .."),
            ("interface: \"\"\n", "must be 1 to 15 bytes long, got 0"),
            ("interface: sixteen-bytes-xx\n", "must be 1 to 15 bytes long, got 16"),
            ("interface: lo\n", "must not be lo"),
        ]
    )
    func interfaceNamesTheKernelRefusesAreRefused(text: String, fragment: String) {
        let found = errors(text)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("ipvsd.yaml:1: interface: ") == true)
        #expect(found.first?.contains(fragment) == true, "\(found)")
    }

    @Test(arguments: ["ipvs0", "eth0", "kube-ipvs0", "fifteen-bytes-x", "lb.0", "ipvs_0"])
    func validInterfaceNamesAreAccepted(name: String) throws {
        // eth0 is a valid name; whether it is a dummy interface is checked when the agent starts.
        #expect(try AgentConfiguration.parse("interface: \(name)\n", file: "ipvsd.yaml").interface == name)
    }

    @Test(
        arguments: [
            ("256.0.0.1:80", "host \"256.0.0.1\" is not an IPv4 address or a bracketed IPv6 address"),
            ("localhost:9750", "host \"localhost\" is not an IPv4 address or a bracketed IPv6 address"),
            ("127.0.0.1:0", "port \"0\" is not a number from 1 to 65535"),
            ("127.0.0.1:65536", "port \"65536\" is not a number from 1 to 65535"),
            ("127.0.0.1:+80", "port \"+80\" is not a number from 1 to 65535"),
            ("127.0.0.1", "no :PORT"),
            ("::1:9750", "host \"::1\" is not an IPv4 address or a bracketed IPv6 address"),
            ("[127.0.0.1]:9750", "\"[127.0.0.1]\" is not a bracketed IPv6 address"),
            (":9750", "host \"\" is not an IPv4 address or a bracketed IPv6 address"),
        ]
    )
    func metricsAddressMustBeAnIPLiteralAndAPort(address: String, reason: String) {
        #expect(
            errors("metricsAddress: \"\(address)\"\n") == [
                "ipvsd.yaml:1: metricsAddress: must be IP:PORT such as 127.0.0.1:9750 or [::1]:9750, or empty to "
                    + "disable: \(reason)"
            ]
        )
    }

    @Test(arguments: ["127.0.0.1:9750", "0.0.0.0:9750", "[::1]:9750", "[::]:1", "10.0.0.1:65535", ""])
    func metricsAddressesThatListenAreAccepted(address: String) throws {
        let config = try AgentConfiguration.parse("metricsAddress: \"\(address)\"\n", file: "ipvsd.yaml")
        #expect(config.metricsAddress == address)
    }

    @Test func adminSocketLongerThanSunPathIsRefused() throws {
        // 107 bytes fit sun_path with its NUL; 108 do not.
        let fits = "/run/" + String(repeating: "x", count: 102)
        #expect(fits.utf8.count == 107)
        #expect(try AgentConfiguration.parse("adminSocket: \(fits)\n", file: "ipvsd.yaml").adminSocket == fits)
        #expect(
            errors("adminSocket: \(fits)y\n") == [
                "ipvsd.yaml:1: adminSocket: must be at most 107 bytes (sun_path), got 108"
            ]
        )
    }

    @Test(
        arguments: [
            ("/", "must name a file, not a directory, got \"/\""),
            ("/admin.sock", "must be in a directory other than /"),
            ("run/admin.sock", "must be an absolute path, got \"run/admin.sock\""),
            ("/run/ipvsd/", "must name a file, not a directory, got \"/run/ipvsd/\""),
            ("/proc/self/admin.sock", "must not be under /proc, got \"/proc/self/admin.sock\""),
        ]
    )
    func adminSocketMustBeAnAbsoluteFilePath(path: String, message: String) {
        #expect(errors("adminSocket: \"\(path)\"\n") == ["ipvsd.yaml:1: adminSocket: \(message)"])
    }

    @Test(
        arguments: [
            ("/dev/null", "must not be under /dev, got \"/dev/null\""),
            ("/var/../dev/null", "must not be under /dev, got \"/var/../dev/null\""),
            ("//sys/state.json", "must not be under /sys, got \"//sys/state.json\""),
            ("/proc/1/state.json", "must not be under /proc, got \"/proc/1/state.json\""),
            ("state.json", "must be an absolute path, got \"state.json\""),
            ("/var/lib/ipvsd/", "must name a file, not a directory, got \"/var/lib/ipvsd/\""),
            ("/var/lib/ipvsd/..", "must name a file, not a directory, got \"/var/lib/ipvsd/..\""),
            ("/", "must name a file, not a directory, got \"/\""),
        ]
    )
    func stateFileMustBeAnAbsoluteFileOutsideKernelFileSystems(path: String, message: String) {
        #expect(errors("stateFile: \"\(path)\"\n") == ["ipvsd.yaml:1: stateFile: \(message)"])
    }

    @Test func manifestsPathMustNotBeEmpty() {
        #expect(errors("manifests: \"\"\n") == ["ipvsd.yaml:1: manifests: must be a file or directory path, got \"\""])
    }

    @Test(
        arguments: [
            (
                "[0.0.0.0/0]",
                "is too large: the prefix must be /12 or longer, as kube-apiserver requires, got \"0.0.0.0/0\""
            ),
            (
                "[10.0.0.0/8]",
                "is too large: the prefix must be /12 or longer, as kube-apiserver requires, got \"10.0.0.0/8\""
            ),
            (
                "[\"fd00::/64\"]",
                "is too large: the prefix must be /108 or longer, as kube-apiserver requires, got \"fd00::/64\""
            ),
            ("[127.0.0.0/16]", "must not overlap the loopback range 127.0.0.0/8, got \"127.0.0.0/16\""),
            ("[0.0.0.0/12]", "must not overlap the unspecified range 0.0.0.0/8, got \"0.0.0.0/12\""),
            ("[169.254.0.0/16]", "must not overlap the link-local range 169.254.0.0/16, got \"169.254.0.0/16\""),
            ("[169.254.1.0/24]", "must not overlap the link-local range 169.254.0.0/16, got \"169.254.1.0/24\""),
            ("[224.0.0.0/12]", "must not overlap the multicast range 224.0.0.0/4, got \"224.0.0.0/12\""),
            (
                "[255.255.255.255/32]",
                "must not overlap the reserved and broadcast range 240.0.0.0/4, got \"255.255.255.255/32\""
            ),
            ("[\"::/128\"]", "must not overlap the unspecified range ::/128, got \"::/128\""),
            ("[\"::/108\"]", "must not overlap the unspecified range ::/128, got \"::/108\""),
            ("[\"fe80::/112\"]", "must not overlap the link-local range fe80::/10, got \"fe80::/112\""),
            ("[\"ff02::/112\"]", "must not overlap the multicast range ff00::/8, got \"ff02::/112\""),
        ]
    )
    func serviceCIDRsThatAreTooLargeOrSpecialAreRefused(list: String, message: String) {
        #expect(errors("serviceCIDRs: \(list)\n") == ["ipvsd.yaml:1: serviceCIDRs[0]: \(message)"])
    }

    @Test func atMostOneServiceCIDRPerFamily() {
        #expect(
            errors("serviceCIDRs:\n- 10.96.0.0/12\n- \"fd00::/108\"\n- 10.112.0.0/12\n") == [
                "ipvsd.yaml:4: serviceCIDRs[2]: must be at most one CIDR per address family, 10.96.0.0/12 is "
                    + "already given"
            ]
        )
    }

    @Test func everyHealthErrorIsReported() {
        let found = errors(
            """
            health:
              enabled: maybe
              maxConcurrentChecks: 0
              rise: 0
              fall: 101
              port: 0
              path: [a]
              host: {a: b}
              body: [c]
              interval: 1ns
              timeout: 1ns
            """
        )
        #expect(found.count == 10, "\(found)")
        for (line, field) in [
            (2, "enabled"), (3, "maxConcurrentChecks"), (4, "rise"), (5, "fall"), (6, "port"), (7, "path"),
            (8, "host"), (9, "body"), (10, "interval"), (11, "timeout"),
        ] {
            #expect(found.contains { $0.hasPrefix("ipvsd.yaml:\(line): health.\(field): ") }, "\(field): \(found)")
        }
    }

    @Test func everyTopLevelAndSysctlErrorIsReported() {
        let found = errors(
            """
            manifests: ""
            stateFile: /dev/null
            adminSocket: /
            interface: lo
            bindAddresses: maybe
            kernelStatistics: maybe
            sysctls:
              manage: maybe
              conntrack: maybe
              connReuseMode: 3
            """
        )
        #expect(found.count == 9, "\(found)")
        for (line, field) in [
            (1, "manifests"), (2, "stateFile"), (3, "adminSocket"), (4, "interface"), (5, "bindAddresses"),
            (6, "kernelStatistics"), (8, "sysctls.manage"), (9, "sysctls.conntrack"), (10, "sysctls.connReuseMode"),
        ] {
            #expect(found.contains { $0.hasPrefix("ipvsd.yaml:\(line): \(field): ") }, "\(field): \(found)")
        }
    }

    @Test(arguments: [
        (Duration.milliseconds(100), "100ms"), (.seconds(90), "90s"), (.seconds(7200), "2h"), (.nanoseconds(1), "1ns"),
        (.microseconds(5), "5us"), (.zero, "0s"), (.seconds(60), "1m"),
    ])
    func durationsAreWrittenInTheConfigSyntax(duration: Duration, text: String) {
        #expect(ConfigurationBounds.text(duration) == text)
    }
}

/// The config file is read through `BoundedFile` with a limit of its own: never more than 1 MiB, whatever
/// the path names.
@Suite struct ConfigurationFileSizeTests {
    private func loadError(_ path: String) -> String? {
        do throws(ConfigurationErrors) {
            _ = try AgentConfiguration.load(path: path)
            return nil
        } catch {
            return error.errors.map(\.description).joined(separator: "\n")
        }
    }

    @Test func aFileOverTheLimitIsRefusedAndOneAtItIsRead() throws {
        let path = NSTemporaryDirectory() + "ipvsd-config-\(getpid()).yaml"
        defer { unlink(path) }
        // A comment line padded to exactly the limit is a valid (empty) config.
        let line = "# " + String(repeating: "x", count: AgentConfiguration.maxFileSize - 3) + "\n"
        try line.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(loadError(path) == nil)
        try (line + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(loadError(path) == "\(path): is larger than 1 MiB, the config file size limit")
    }

    /// A device that never ends is read only up to the limit (a pipe or a device is allowed, as in
    /// `--config <(...)`); a missing file names its errno.
    @Test func aDeviceIsReadOnlyUpToTheLimit() {
        #expect(loadError("/dev/zero") == "/dev/zero: is larger than 1 MiB, the config file size limit")
        let missing = "/nonexistent/ipvsd.yaml"
        #expect(loadError(missing) == "\(missing): cannot read: No such file or directory (ENOENT)")
    }
}
