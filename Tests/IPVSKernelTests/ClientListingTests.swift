import Foundation
import IPVS
import Synchronization
import Testing

/// A listing in several parts stays exact while another namespace churns the kernel's shared service table.
@Suite(.enabled(if: KernelTests.enabled))
struct ClientListingTests {
    static func id(_ index: Int, port: UInt16 = 80) -> VirtualServer.ID {
        .service(.tcp, IPAddress(ipv4: 0x0A05_0000 + UInt32(index)), port: port)
    }

    @Test func listingIsExactWhileAnotherNamespaceChurns() throws {
        let sandbox = try KernelSandbox()
        let expected = (0..<1500).map { Self.id($0) }
        #expect(sandbox.client.apply(expected.map { .addService(VirtualServer(id: $0)) }).succeeded)

        // Another namespace adds and deletes services in the same kernel hash table, as fast as it can.
        let other = try KernelSandbox()
        let stop = Atomic(false)
        let churned = Atomic(0)
        let done = DispatchSemaphore(value: 0)
        let churn = (0..<200).map { Self.id($0, port: 81) }
        Thread.detachNewThread {
            while !stop.load(ordering: .relaxed) {
                _ = other.client.apply(churn.map { .addService(VirtualServer(id: $0)) })
                _ = other.client.apply(churn.map { .deleteService($0) })
                churned.add(1, ordering: .relaxed)
            }
            done.signal()
        }
        defer {
            stop.store(true, ordering: .relaxed)
            done.wait()
        }

        for _ in 0..<6 {
            let listed = try sandbox.client.services().map(\.virtualServer.id)
            let missing = Set(expected).subtracting(listed)
            let unexpected = Set(listed).subtracting(expected)
            #expect(listed.count == expected.count, "listed \(listed.count) services")
            #expect(missing.isEmpty, "\(missing.count) services missing from the listing")
            #expect(unexpected.isEmpty, "\(unexpected.count) services listed that do not exist")
        }
        #expect(churned.load(ordering: .relaxed) > 0, "the other namespace never changed anything")
    }
}
