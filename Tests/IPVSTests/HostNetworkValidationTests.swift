import Testing

@testable import IPVS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Host network logic that needs no privileges: names refused before the kernel sees them, the sysctl table,
/// and the translation of libnl's error codes.
@Suite struct HostNetworkValidationTests {
    @Test(arguments: [
        ("", "invalid interface name '': it is empty"),
        ("a-very-long-name", "invalid interface name 'a-very-long-name': it is 16 bytes long, the limit is 15"),
        (".", "invalid interface name '.': '.' and '..' are not interface names"),
        ("..", "invalid interface name '..': '.' and '..' are not interface names"),
        ("ipvs/0", "invalid interface name 'ipvs/0': it contains '/'"),
        ("eth0:1", "invalid interface name 'eth0:1': it contains ':'"),
        ("ipvs 0", "invalid interface name 'ipvs 0': it contains a space or control character"),
    ])
    func interfaceNamesTheKernelRefusesAreRefused(_ name: String, _ message: String) {
        let error = #expect(throws: IPVSError.self) { try HostNetwork.validateInterfaceName(name) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message == message)
    }

    @Test(arguments: ["ipvs0", "kube-ipvs0", "a", "fifteen-bytes-x", "eth0.100"])
    func validInterfaceNamesPass(_ name: String) throws {
        try HostNetwork.validateInterfaceName(name)
    }

    @Test(arguments: [
        ("", "invalid sysctl name '': it is empty"),
        (
            "/proc/sys/net/ipv4/vs/conntrack",
            "invalid sysctl name '/proc/sys/net/ipv4/vs/conntrack': give it relative to /proc/sys, without a leading '/'"
        ),
        (
            "net.ipv4.vs.conntrack ",
            "invalid sysctl name 'net.ipv4.vs.conntrack ': character ' ' is not allowed (use '/' between components, as in net/ipv4/vs/conntrack)"
        ),
        ("net/../../etc/passwd", "invalid sysctl name 'net/../../etc/passwd': component '..' is not allowed"),
        ("net//ipv4", "invalid sysctl name 'net//ipv4': it has an empty component"),
        ("net/ipv4/", "invalid sysctl name 'net/ipv4/': it has an empty component"),
    ])
    func malformedSysctlNamesAreRefused(_ name: String, _ message: String) {
        let error = #expect(throws: IPVSError.self) { try Sysctl.path(of: name) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message == message)
    }

    @Test func sysctlNamesMapUnderProcSys() throws {
        #expect(try Sysctl.path(of: "net/ipv4/vs/conntrack") == "/proc/sys/net/ipv4/vs/conntrack")
        #expect(
            try Sysctl.path(of: "net/ipv4/conf/eth0.100/arp_ignore") == "/proc/sys/net/ipv4/conf/eth0.100/arp_ignore"
        )
    }

    @Test func defaultSysctls() {
        let settings = IPVSSysctls().settings
        #expect(
            settings.map(\.name) == [
                "net/ipv4/vs/conntrack", "net/ipv4/vs/expire_nodest_conn", "net/ipv4/vs/expire_quiescent_template",
                "net/ipv4/vs/conn_reuse_mode", "net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/all/arp_announce",
            ]
        )
        #expect(settings.map(\.value) == ["1", "1", "1", "1", "1", "2"])
    }

    @Test func sysctlsWithoutStrictARPLeaveARPAlone() {
        let sysctls = IPVSSysctls(conntrack: false, expireQuiescentTemplate: false, connReuseMode: 2, strictARP: false)
        let settings = sysctls.settings
        #expect(
            settings.map(\.name) == [
                "net/ipv4/vs/conntrack", "net/ipv4/vs/expire_nodest_conn", "net/ipv4/vs/expire_quiescent_template",
                "net/ipv4/vs/conn_reuse_mode",
            ]
        )
        #expect(settings.map(\.value) == ["0", "1", "0", "2"])
    }

    @Test func libnlErrorsKeepTheKernelErrno() {
        let exists = RouteError.error(libnl: 6, step: "add 10.0.0.1/32 to ipvs0")  // NLE_EXIST
        #expect(exists.code == .alreadyExists)
        #expect(exists.errno == EEXIST)
        #expect(exists.message == "cannot add 10.0.0.1/32 to ipvs0: Object exists (EEXIST)")

        let denied = RouteError.error(libnl: 28, step: "create interface ipvs0 of type dummy")  // NLE_PERM
        #expect(denied.code == .permissionDenied)
        #expect(denied.message == "cannot create interface ipvs0 of type dummy: Operation not permitted (EPERM)")

        #expect(RouteError.classify(12) == (.notFound, ENODEV))  // NLE_OBJ_NOTFOUND
        #expect(RouteError.classify(19) == (.notFound, EADDRNOTAVAIL))  // NLE_NOADDR
    }

    @Test func systemErrorsNameTheStep() {
        let error = RouteError.system("open network namespace /nonexistent", errno: ENOENT)
        #expect(error.code == .notFound)
        #expect(error.message == "cannot open network namespace /nonexistent: No such file or directory (ENOENT)")
    }

    @Test func aMissingNamespaceIsNamed() {
        let error = #expect(throws: IPVSError.self) { try HostNetwork(namespace: .path("/nonexistent/netns")) }
        #expect(error?.code == .notFound)
        #expect(
            error?.message == "cannot open network namespace /nonexistent/netns: No such file or directory (ENOENT)"
        )
    }

    @Test func ipv6LinkLocalIsRecognized() {
        func entry(_ text: String, scope: Int32) -> AssignedAddress {
            AssignedAddress(address: IPAddress(text)!, prefixLength: 64, scope: scope)
        }
        #expect(entry("fe80::1", scope: 253).isIPv6LinkLocal)  // RT_SCOPE_LINK
        #expect(entry("febf::1", scope: 0).isIPv6LinkLocal)
        #expect(!entry("2001:db8::1", scope: 0).isIPv6LinkLocal)
        #expect(!entry("fec0::1", scope: 0).isIPv6LinkLocal)
        #expect(!entry("169.254.0.1", scope: 253).isIPv6LinkLocal)
    }

    @Test func hostPrefixLengths() {
        #expect(HostNetwork.hostPrefixLength(IPAddress("10.0.0.1")!) == 32)
        #expect(HostNetwork.hostPrefixLength(IPAddress("2001:db8::1")!) == 128)
    }
}
