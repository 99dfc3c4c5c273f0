internal import CNetlink

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The agent's masquerade rules in the kernel: its own nftables table, replaced whole at each change.
public protocol PacketFilter: Sendable {
    /// Replaces the table's rules and sets with `rules`, in one transaction.
    func apply(_ rules: MasqueradeRules) throws(IPVSError)
    /// Deletes the agent's table; other tables are never touched.
    func remove() throws(IPVSError)
}

/// ``PacketFilter`` through libnftables (Debian's libnftables1), in the given network namespace.
public struct Nftables: PacketFilter {
    public let namespace: NetworkNamespace

    public init(namespace: NetworkNamespace = .current) { self.namespace = namespace }

    public func apply(_ rules: MasqueradeRules) throws(IPVSError) {
        try run(NftablesScript.sync(rules), step: "update nftables table inet \(NftablesScript.table)")
    }

    public func remove() throws(IPVSError) {
        try run(NftablesScript.remove, step: "delete nftables table inet \(NftablesScript.table)")
    }

    /// Runs one command buffer as one transaction: the only caller of libnftables.
    func run(_ commands: String, step: String) throws(IPVSError) {
        var nsfd: Int32 = -1
        if case .path(let path) = namespace {
            nsfd = open(path, O_RDONLY | O_CLOEXEC)
            guard nsfd >= 0 else {
                let code = errno
                throw IPVSError(
                    .connectionFailed,
                    "cannot \(step): cannot open network namespace \(path): \(IPVSError.describe(errno: code))",
                    errno: code
                )
            }
        }
        defer { if nsfd >= 0 { close(nsfd) } }
        let job = commands.withCString { text in
            var job = cnl_nft_job(nsfd: nsfd, commands: text, result: -1, sys_errno: 0, error: nil)
            cnl_nft_run(&job)
            return job
        }
        defer { free(job.error) }
        if job.sys_errno != 0 {
            throw IPVSError(
                .connectionFailed,
                "cannot \(step): \(IPVSError.describe(errno: job.sys_errno))",
                errno: job.sys_errno
            )
        }
        guard job.result == 0 else {
            let detail = job.error.map { String(cString: $0) } ?? ""
            let firstLines = detail.split(separator: "\n").prefix(6).joined(separator: "; ")
            let code: IPVSError.Code =
                detail.contains("Operation not permitted") ? .permissionDenied : .kernel
            throw IPVSError(code, "cannot \(step): libnftables: \(firstLines.isEmpty ? "failed" : firstLines)")
        }
    }
}
