internal import CNetlink

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The agent's masquerade rules in the kernel: its own nftables table, written whole when it may have
/// drifted, and element by element when only its sets' contents change.
public protocol PacketFilter: Sendable {
    /// Replaces the table's rules and sets with `rules`, in one transaction.
    func apply(_ rules: MasqueradeRules) throws(IPVSError)
    /// Changes the sets from `old`, which the table must hold, to `new`, in one transaction; it fails, and
    /// changes nothing, when the table does not hold `old`.
    func update(from old: MasqueradeRules, to new: MasqueradeRules) throws(IPVSError)
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

    public func update(from old: MasqueradeRules, to new: MasqueradeRules) throws(IPVSError) {
        let script = NftablesScript.update(from: old, to: new)
        guard !script.isEmpty else { return }
        try run(script, step: "update the sets of nftables table inet \(NftablesScript.table)")
    }

    public func remove() throws(IPVSError) {
        try run(NftablesScript.remove, step: "delete nftables table inet \(NftablesScript.table)")
    }

    /// Runs one command buffer as one transaction: the only caller of libnftables.
    func run(_ commands: String, step: String) throws(IPVSError) {
        let outcome: (result: Int32, error: String?)
        switch namespace {
        case .current:
            outcome = Self.runInThisNamespace(commands)
        case .path(let path):
            do throws(IPVSError) {
                outcome = try NamespaceThread.run(inNamespaceAt: path) { Self.runInThisNamespace(commands) }
            } catch {
                throw IPVSError(error.code, "cannot \(step): \(error.message)", errno: error.errno)
            }
        }
        guard outcome.result == 0 else {
            let detail = outcome.error ?? ""
            let firstLines = detail.split(separator: "\n").prefix(6).joined(separator: "; ")
            let code: IPVSError.Code =
                detail.contains("Operation not permitted") ? .permissionDenied : .kernel
            throw IPVSError(code, "cannot \(step): libnftables: \(firstLines.isEmpty ? "failed" : firstLines)")
        }
    }

    /// One libnftables context, created and freed on the calling thread (its netlink socket belongs to this
    /// thread's namespace), running `commands` as one transaction.
    /// - Returns: nft_run_cmd_from_buffer's result (0 on success, -1 without a context) and its error text.
    private static func runInThisNamespace(_ commands: String) -> (result: Int32, error: String?) {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else { return (-1, "out of memory (ENOMEM)") }
        defer { nft_ctx_free(context) }
        nft_ctx_buffer_output(context)
        nft_ctx_buffer_error(context)
        let result = nft_run_cmd_from_buffer(context, commands)
        let text = nft_ctx_get_error_buffer(context).map { String(cString: $0) }
        return (result, text?.isEmpty == false ? text : nil)
    }
}
