import Foundation
import IPVS
import Testing

extension LibraryKernelTests {
    /// What the library reports when the kernel (or its own validation) refuses an operation.
    @Suite
    struct LibraryErrorTests: LibrarySuite {
        @Test func kernelErrorsCarryCodeAndErrno() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            let id = tcp("10.5.0.1", 80)
            let server = RealServer(address: ip("192.168.50.1"), port: 80)
            client.applyRecordingFailures([.addService(VirtualServer(id: id)), .addServer(server, to: id)])
            let missingService = tcp("10.5.0.2", 80)
            let missingServer = RealServer(address: ip("192.168.50.2"), port: 80)

            let cases: [(IPVSOperation, IPVSError.Code, Int32)] = [
                (.addService(VirtualServer(id: id)), .alreadyExists, EEXIST),
                (.addService(VirtualServer(id: id, scheduler: .roundRobin)), .alreadyExists, EEXIST),
                (.addService(VirtualServer(id: missingService, scheduler: "nosuch")), .schedulerUnavailable, ENOENT),
                (
                    .addService(VirtualServer(id: missingService, persistenceEngine: "nosuch")), .schedulerUnavailable,
                    ENOENT
                ),
                (.updateService(VirtualServer(id: id, scheduler: "nosuch")), .schedulerUnavailable, ENOENT),
                (.updateService(VirtualServer(id: missingService)), .notFound, ESRCH),
                (.deleteService(missingService), .notFound, ESRCH),
                (.addServer(server, to: id), .alreadyExists, EEXIST),
                (.addServer(server, to: missingService), .notFound, ESRCH),
                (.updateServer(missingServer, in: id), .notFound, ENOENT),
                (.updateServer(server, in: missingService), .notFound, ESRCH),
                (.deleteServer(missingServer.id, from: id), .notFound, ENOENT),
                (.deleteServer(server.id, from: missingService), .notFound, ESRCH),
                (.zero(missingService), .notFound, ESRCH),
            ]
            for (operation, code, errno) in cases {
                let error = #expect(throws: IPVSError.self, "\(operation)") { try client.perform(operation) }
                #expect(error?.code == code, "\(operation): \(String(describing: error))")
                #expect(error?.errno == errno, "\(operation): \(String(describing: error))")
                #expect(error?.operation == operation)
            }

            // Reading a missing service.
            let error = #expect(throws: IPVSError.self) { try client.service(missingService) }
            #expect(error?.code == .notFound)

            // None of it changed the table.
            #expect(try client.service(id).virtualServer == VirtualServer(id: id))
            #expect(try client.servers(of: id).map(\.realServer) == [server])
            #expect(
                try sandbox.ipvsadmSaveLines()
                    == ["-A -t 10.5.0.1:80 -s wlc", "-a -t 10.5.0.1:80 -r 192.168.50.1:80 -g -w 1"]
            )
        }

        @Test func invalidInputNeverReachesTheKernel() throws {
            let sandbox = try KernelSandbox()
            let client = sandbox.client
            let v4 = tcp("10.6.0.1", 80)
            let v6 = tcp("2001:db8::6", 80)
            let invalid: [IPVSOperation] = [
                .addService(VirtualServer(id: v4, scheduler: "sixteen-bytes-xx")),
                .addService(VirtualServer(id: v4, scheduler: "")),
                .addService(VirtualServer(id: v4, persistenceEngine: "")),
                .addService(VirtualServer(id: v6, flags: [.persistent], timeout: 10, netmask: 0)),
                .addService(VirtualServer(id: v6, netmask: 129)),
                .addService(VirtualServer(id: v4, flags: [.hashed])),
                .addServer(RealServer(address: ip("2001:db8::60"), port: 80, forwarding: .masquerade), to: v4),
                .addServer(RealServer(address: ip("2001:db8::60"), port: 80), to: v4),
                .addServer(RealServer(address: ip("192.168.60.1"), port: 80, forwarding: .masquerade), to: v6),
                .addServer(RealServer(address: ip("192.168.60.1"), port: 80, weight: UInt32(Int32.max) + 1), to: v4),
                .startDaemon(SyncDaemon(state: .master, interface: "")),
                .startDaemon(SyncDaemon(state: .master, interface: "sixteen-bytes-xx")),
            ]
            for operation in invalid {
                let error = #expect(throws: IPVSError.self, "\(operation)") { try client.perform(operation) }
                #expect(error?.code == .invalidInput, "\(operation): \(String(describing: error))")
                #expect(error?.errno == nil)
            }

            // In a bulk apply they are reported at their index and the valid operations around them still run.
            let valid = VirtualServer(id: tcp("10.6.0.2", 80))
            let result = client.apply(
                [.addService(valid)] + invalid + [
                    .addServer(RealServer(address: ip("192.168.60.2"), port: 80), to: valid.id)
                ]
            )
            #expect(result.failures.map(\.index) == Array(1...invalid.count))
            #expect(result.failures.allSatisfy { $0.error.code == .invalidInput })
            #expect(result.sendCalls == 1)

            // Nothing of the invalid operations reached the kernel.
            #expect(try client.daemons().isEmpty)
            #expect(
                try sandbox.ipvsadmSaveLines()
                    == ["-A -t 10.6.0.2:80 -s wlc", "-a -t 10.6.0.2:80 -r 192.168.60.2:80 -g -w 1"]
            )
        }
    }
}
