import Foundation
import IPVS
import Testing

enum HostKernel {
    /// No `/proc/net/ip_vs` and no `ip_vs` module to load (the module would create the file).
    static let lacksIPVS: Bool = {
        guard !FileManager.default.fileExists(atPath: "/proc/net/ip_vs") else { return false }
        let release = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? ""
        let modules = "/lib/modules/\(release.trimmingCharacters(in: .whitespacesAndNewlines))"
        return !FileManager.default.fileExists(atPath: modules + "/kernel/net/netfilter/ipvs")
    }()
}

/// On a kernel without IPVS (these development machines), the client says so instead of failing vaguely.
@Suite(.enabled(if: HostKernel.lacksIPVS))
struct UnavailableKernelTests {

    @Test func clientReportsMissingIPVS() {
        let error = #expect(throws: IPVSError.self) { try IPVSClient() }
        #expect(error?.code == .ipvsUnavailable)
        #expect(
            error?.message
                == "IPVS is not available: the kernel has no 'IPVS' generic netlink family"
                + " (load it with 'modprobe ip_vs'; the kernel needs CONFIG_IP_VS)"
        )
    }

    @Test func missingNamespaceIsNamed() {
        let error = #expect(throws: IPVSError.self) {
            try IPVSClient(configuration: .init(namespace: .path("/run/netns/does-not-exist")))
        }
        #expect(error?.code == .connectionFailed)
        #expect(
            error?.message
                == "cannot open network namespace /run/netns/does-not-exist: No such file or directory (ENOENT)"
        )
    }
}
