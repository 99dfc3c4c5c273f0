import Foundation
import IPVS
import Synchronization
import Testing

extension LibraryKernelTests {
    /// Thousands of operations in few system calls, with a failure in the middle.
    @Suite
    struct LibraryBulkApplyTests: LibrarySuite {
        static let serviceCount = 1000

        func serviceID(_ index: Int) -> VirtualServer.ID {
            tcp("10.\(100 + index / 250).\(index % 250).1", 80)
        }

        func serverAddress(_ index: Int) -> String { "172.16.\(index / 250).\(index % 250 + 1)" }

        @Test func thousandsOfOperationsWithOneFailure() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            let count = Self.serviceCount

            var operations: [IPVSOperation] = []
            for index in 0..<count {
                operations.append(.addService(VirtualServer(id: serviceID(index), scheduler: .roundRobin)))
                operations.append(
                    .addServer(RealServer(address: ip(serverAddress(index)), port: 8080), to: serviceID(index))
                )
            }
            // The failure in the middle: service 0 again.
            let failingIndex = operations.count
            operations.append(.addService(VirtualServer(id: serviceID(0))))
            // Refused before sending (weight above Int32.max): it leaves a gap in the batch's sequence numbers.
            let refusedIndex = operations.count
            operations.append(
                .addServer(RealServer(address: ip("172.31.0.1"), port: 1, weight: .max), to: serviceID(1))
            )
            for index in 0..<count {
                let server = RealServer(
                    address: ip(serverAddress(index)),
                    port: 8080,
                    forwarding: .masquerade,
                    weight: UInt32(index % 100 + 2)
                )
                operations.append(.updateServer(server, in: serviceID(index)))
            }
            // Delete every tenth service again.
            for index in stride(from: 0, to: count, by: 10) {
                operations.append(.deleteService(serviceID(index)))
            }
            #expect(operations.count > 3000)

            let progress = Mutex<[(Int, Int)]>([])
            let result = client.apply(operations) { done, total in progress.withLock { $0.append((done, total)) } }

            #expect(result.operationCount == operations.count)
            try #require(result.failures.count == 2, "\(result.failures.prefix(5).map(\.error))")
            #expect(result.failures[1].index == refusedIndex)
            #expect(result.failures[1].error.code == .invalidInput)
            let failure = result.failures[0]
            #expect(failure.index == failingIndex)
            #expect(failure.operation == operations[failingIndex])
            #expect(failure.error.code == .alreadyExists)
            #expect(failure.error.errno == EEXIST)
            // Far fewer system calls than operations.
            #expect(result.sendCalls >= 1)
            #expect(result.sendCalls * 100 <= operations.count, "\(result.sendCalls) sendmsg calls")
            let reports = progress.withLock { $0 }
            #expect(reports.count == result.sendCalls)
            #expect(reports.last?.0 == operations.count)
            #expect(reports.allSatisfy { $0.1 == operations.count })

            // Every other operation took effect: the library's view...
            let remaining = (0..<count).filter { $0 % 10 != 0 }
            let services = try stableRead { try client.services() }
            #expect(services.count == remaining.count)
            #expect(Set(services.map(\.virtualServer.id)) == Set(remaining.map(serviceID)))
            #expect(services.allSatisfy { $0.virtualServer.scheduler == .roundRobin })
            var serverCount = 0
            for index in remaining {
                let servers = try client.servers(of: serviceID(index)).map(\.realServer)
                serverCount += servers.count
                #expect(
                    servers
                        == [
                            RealServer(
                                address: ip(serverAddress(index)),
                                port: 8080,
                                forwarding: .masquerade,
                                weight: UInt32(index % 100 + 2)
                            )
                        ]
                )
            }
            #expect(serverCount == remaining.count)

            // ...and the oracle's, line for line.
            var expected: [String] = []
            for index in remaining {
                let service = "10.\(100 + index / 250).\(index % 250).1:80"
                expected.append("-A -t \(service) -s rr")
                expected.append("-a -t \(service) -r \(serverAddress(index)):8080 -m -w \(index % 100 + 2)")
            }
            let saved = try stableRead { try sandbox.ipvsadmSaveLines() }
            #expect(saved.count == 2 * remaining.count)
            #expect(saved.filter { $0.hasPrefix("-A ") }.count == remaining.count)
            #expect(saved.filter { $0.hasPrefix("-a ") }.count == remaining.count)
            #expect(saved == expected.sorted())
        }

        /// Operations produced while the kernel works: handed over in small steps, finished batches coming
        /// back between them, a refusal in the middle reported at its own position, everything else applied.
        @Test func streamingApplyWithARefusalMidStream() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            var operations: [IPVSOperation] = []
            for index in 0..<Self.serviceCount {
                operations.append(.addService(VirtualServer(id: serviceID(index), scheduler: .roundRobin)))
                operations.append(
                    .addServer(RealServer(address: ip(serverAddress(index)), port: 8080), to: serviceID(index))
                )
                if index == Self.serviceCount / 2 { operations.append(.addService(VirtualServer(id: serviceID(0)))) }
            }
            let refusedIndex = Self.serviceCount + 2
            #expect(operations[refusedIndex] == .addService(VirtualServer(id: serviceID(0))))
            var batches: [AppliedBatch] = []
            batches += client.applyStreaming { stream in
                for start in stride(from: 0, to: operations.count, by: 100) {
                    batches += stream.submit(Array(operations[start..<min(start + 100, operations.count)]))
                }
            }
            var joined: [IPVSOperation] = []
            var failures: [(Int, BulkApplyResult.Failure)] = []
            for batch in batches {
                #expect(batch.offset == joined.count)
                joined += batch.operations
                failures += batch.result.failures.map { (batch.offset + $0.index, $0) }
            }
            #expect(joined == operations)
            try #require(failures.count == 1, "\(failures.prefix(3).map(\.1.error))")
            #expect(failures[0].0 == refusedIndex)
            #expect(failures[0].1.error.errno == EEXIST)
            let services = try stableRead { try client.services() }
            #expect(services.count == Self.serviceCount)
            let saved = try stableRead { try sandbox.ipvsadmSaveLines() }
            #expect(saved.filter { $0.hasPrefix("-a ") }.count == Self.serviceCount)
        }

        /// Small socket buffers mean more, smaller batches, never a lost or oversized one.
        @Test(arguments: [0, 8 * 1024, 64 * 1024])
        func smallSocketBuffers(bufferSize: Int) throws {
            let sandbox = try KernelSandbox()
            let client = try IPVSClient(
                configuration: .init(namespace: sandbox.namespace.namespace, socketBufferSize: bufferSize)
            )
            var operations: [IPVSOperation] = []
            for index in 0..<500 {
                operations.append(.addService(VirtualServer(id: serviceID(index))))
                operations.append(
                    .addServer(RealServer(address: ip(serverAddress(index)), port: 8080), to: serviceID(index))
                )
            }
            let result = client.apply(operations)
            #expect(result.failures.isEmpty, "\(result.failures.prefix(3).map(\.error))")
            #expect(result.sendCalls > 1)
            #expect(try stableRead { try client.services() }.count == 500)
            let saved = try stableRead { try sandbox.ipvsadmSaveLines() }
            #expect(saved.count == 1000, "ipvsadm -Sn: \(saved.count) lines, first \(saved.prefix(3))")
        }
    }
}
