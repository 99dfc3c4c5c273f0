internal import CNetlink

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension Nftables {
    /// Sends `changes` as one nftables transaction of netlink messages (cnl_nft_elements_transaction in the
    /// shim): all of them are applied, or none (a delete of a missing element, an add to a missing set).
    func send(_ changes: [NftablesElementChange], step: String) throws(IPVSError) {
        guard !changes.isEmpty else { return }
        // The transaction's keys and set names back to back; each operation points into them by offset.
        var keys: [UInt8] = []
        var names: [CChar] = []
        var operations: [cnl_nft_elements] = []
        for change in changes {
            operations.append(
                cnl_nft_elements(
                    name_offset: UInt32(names.count),
                    delete_elements: change.verb == .delete ? 1 : 0,
                    key_offset: UInt32(keys.count),
                    key_len: UInt32(change.keyLength),
                    count: UInt32(change.elements.count)
                )
            )
            names += change.set.utf8CString
            keys += change.keys
        }
        let table = NftablesScript.table
        let (result, failed) = try inNamespace(step: step) { () -> (Int32, UInt32) in
            var failed = UInt32.max
            let result = table.withCString { table in
                cnl_nft_elements_transaction(
                    cnl_nfproto_inet,
                    table,
                    names,
                    keys,
                    operations,
                    UInt32(operations.count),
                    &failed
                )
            }
            return (result, failed)
        }
        guard result != 0 else { return }
        let code = -result
        var what = "nftables set elements"
        if Int(failed) < changes.count {
            let change = changes[Int(failed)]
            what = "\(change.verb.rawValue) \(change.elements.count) elements of set \(change.set)"
        }
        throw IPVSError(
            code == EPERM ? .permissionDenied : .kernel,
            "cannot \(step): \(what): \(String(cString: strerror(code)))",
            errno: code
        )
    }
}
