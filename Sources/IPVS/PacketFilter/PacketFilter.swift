internal import CNetlink
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The agent's masquerade rules in the kernel: its own nftables table, written whole when it may have
/// drifted, and element by element when only its sets' contents change.
public protocol PacketFilter: Sendable {
    /// Replaces the table's rules and sets with `rules`. Packets see the old rules and sets until the new
    /// ones are complete; on failure the old ones stay.
    func apply(_ rules: MasqueradeRules) throws(IPVSError)
    /// Deletes `removing`'s elements, which the table must hold, and adds `adding`'s (the two disjoint); it
    /// fails when the table does not hold an element to delete, and the caller then writes the table whole.
    func update(removing: MasqueradeRules, adding: MasqueradeRules) throws(IPVSError)
    /// Deletes the agent's table; other tables are never touched.
    func remove() throws(IPVSError)
    /// Whether the table still has the sets and chains of this process's last write: a check that lists no
    /// element, so it costs the same at any size. It finds a deleted table, a ruleset flush (a firewall
    /// reload) or a deleted set or chain; elements or rules changed inside the table are not seen (an
    /// update that deletes a missing element fails, and the caller then writes the table whole).
    func holdsLastWrite() throws(IPVSError) -> Bool
}

/// ``PacketFilter`` through libnftables (Debian's libnftables1) for the table, its chains, rules and sets, and
/// nftables' netlink messages (libnftnl and libmnl) for set elements, in the given network namespace.
///
/// Every transaction carries at most ``NftablesScript/elementsPerTransaction`` elements, so its memory does
/// not grow with the cluster. A whole write fills a new generation of sets beside the live one
/// and then switches the rules to it in one small transaction (``NftablesScript/write``). The live
/// generation is always the lowest-numbered one in the table: a write deletes every other generation in the
/// transaction that makes its own live, so any higher one is a write that did not finish.
public struct Nftables: PacketFilter {
    public let namespace: NetworkNamespace
    let elementsPerTransaction: Int
    /// The generation the rules match, once known; nil until this process has listed or written it.
    private let live = LiveGeneration()

    public init(
        namespace: NetworkNamespace = .current,
        elementsPerTransaction: Int = NftablesScript.elementsPerTransaction
    ) {
        self.namespace = namespace
        self.elementsPerTransaction = max(elementsPerTransaction, 1)
    }

    public func apply(_ rules: MasqueradeRules) throws(IPVSError) {
        let present = try generations()
        let next = (present.max() ?? 0) + 1
        let step = "update nftables table inet \(NftablesScript.table)"
        live.value.withLock { $0 = nil }
        let write = NftablesScript.write(
            rules,
            generation: next,
            stale: present.sorted(),
            elementsPerTransaction: elementsPerTransaction
        )
        try run(write.prepare, step: step)
        for transaction in write.fills {
            try send(transaction, step: step)
        }
        try run(write.activate, step: step)
        live.value.withLock { $0 = next }
    }

    public func update(removing: MasqueradeRules, adding: MasqueradeRules) throws(IPVSError) {
        let generation: UInt64
        if let known = live.value.withLock({ $0 }) {
            generation = known
        } else if let lowest = try generations().min() {
            generation = lowest
        } else {
            throw IPVSError(.kernel, "nftables table inet \(NftablesScript.table) has none of ipvsd's sets")
        }
        let step = "update the sets of nftables table inet \(NftablesScript.table)"
        for transaction in NftablesScript.update(
            removing: removing,
            adding: adding,
            generation: generation,
            elementsPerTransaction: elementsPerTransaction
        ) {
            try send(transaction, step: step)
        }
    }

    public func remove() throws(IPVSError) {
        live.value.withLock { $0 = nil }
        try run(NftablesScript.remove, step: "delete nftables table inet \(NftablesScript.table)")
    }

    public func holdsLastWrite() throws(IPVSError) -> Bool {
        guard let generation = live.value.withLock({ $0 }) else { return false }
        let step = "list nftables table inet \(NftablesScript.table)"
        let sets = Set(NftablesScript.agentSets(inListing: try run(NftablesScript.listSets, step: step)))
        guard sets.isSuperset(of: NftablesScript.sets(of: generation)) else { return false }
        let chains = Set(NftablesScript.agentChains(inListing: try run(NftablesScript.listChains, step: step)))
        return chains.isSuperset(of: NftablesScript.chains)
    }

    /// The generations of ipvsd's sets the table holds now (empty without the table).
    func generations() throws(IPVSError) -> Set<UInt64> {
        let listing = try run(NftablesScript.listSets, step: "list the sets of nftables table inet ipvsd")
        return Set(NftablesScript.agentSets(inListing: listing).compactMap(NftablesScript.generation(ofSet:)))
    }

    /// Runs one command buffer as one transaction: the only caller of libnftables. Returns what it printed.
    @discardableResult
    func run(_ commands: String, step: String) throws(IPVSError) -> String {
        let outcome = try inNamespace(step: step) { Self.runInThisNamespace(commands) }
        guard outcome.result == 0 else {
            let detail = outcome.error ?? ""
            let firstLines = detail.split(separator: "\n").prefix(6).joined(separator: "; ")
            let code: IPVSError.Code =
                detail.contains("Operation not permitted") ? .permissionDenied : .kernel
            throw IPVSError(code, "cannot \(step): libnftables: \(firstLines.isEmpty ? "failed" : firstLines)")
        }
        return outcome.output
    }

    /// Runs `body` on a thread in the filter's namespace (the calling thread for the current one): a netlink
    /// socket belongs to the namespace of the thread that opens it.
    func inNamespace<Result>(step: String, _ body: () -> Result) throws(IPVSError) -> Result {
        switch namespace {
        case .current:
            return body()
        case .path(let path):
            do throws(IPVSError) {
                return try NamespaceThread.run(inNamespaceAt: path, body)
            } catch {
                throw IPVSError(error.code, "cannot \(step): \(error.message)", errno: error.errno)
            }
        }
    }

    /// One libnftables context, created and freed on the calling thread (its netlink socket belongs to this
    /// thread's namespace), running `commands` as one transaction.
    /// Output is terse: a listing names sets without their elements.
    /// - Returns: nft_run_cmd_from_buffer's result (0 on success, -1 without a context), its output and its
    ///   error text.
    private static func runInThisNamespace(_ commands: String) -> (result: Int32, output: String, error: String?) {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else { return (-1, "", "out of memory (ENOMEM)") }
        defer { nft_ctx_free(context) }
        nft_ctx_output_set_flags(context, UInt32(NFT_CTX_OUTPUT_TERSE))
        nft_ctx_buffer_output(context)
        nft_ctx_buffer_error(context)
        let result = nft_run_cmd_from_buffer(context, commands)
        let output = nft_ctx_get_output_buffer(context).map { String(cString: $0) } ?? ""
        let text = nft_ctx_get_error_buffer(context).map { String(cString: $0) }
        return (result, output, text?.isEmpty == false ? text : nil)
    }
}

/// The live generation, shared by copies of one ``Nftables`` (it is a value the agent and its runner hold).
private final class LiveGeneration: Sendable {
    let value = Mutex<UInt64?>(nil)
}
