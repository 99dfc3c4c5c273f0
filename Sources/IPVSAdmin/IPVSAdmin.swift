import IPVS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a command printed and its exit status.
public struct AdminOutput: Hashable, Sendable {
    public var stdout = ""
    public var stderr = ""
    public var status: Int32 = 0

    public init(stdout: String = "", stderr: String = "", status: Int32 = 0) {
        self.stdout = stdout
        self.stderr = stderr
        self.status = status
    }

    mutating func fail(_ error: AdminError) {
        stderr += error.message + "\n"
        status = error.status
    }
}

/// Runs ipvsadm command lines against an ``IPVSKernel``: the whole of `ipvsctl`'s ipvsadm-compatible mode.
public struct IPVSAdmin: Sendable {
    public typealias KernelProvider = @Sendable () throws(IPVSError) -> any IPVSKernel

    public var programName: String
    public var resolver: any NameResolver
    /// Opens the kernel on first need, so `-h` and bad arguments work without IPVS.
    public var kernelProvider: KernelProvider
    /// Reads `/proc/net/ip_vs_conn` for `-L -c`.
    public var connectionTable: @Sendable () -> String?
    /// Told (operations done, total) after each batch of a `-R` restore.
    public var progress: (@Sendable (Int, Int) -> Void)?

    public init(
        programName: String = "ipvsctl",
        resolver: any NameResolver = SystemResolver(),
        connectionTable: @escaping @Sendable () -> String? = { nil },
        kernel: @escaping KernelProvider
    ) {
        self.programName = programName
        self.resolver = resolver
        self.connectionTable = connectionTable
        self.kernelProvider = kernel
    }

    /// Creates an admin over an already open kernel.
    public init(kernel: any IPVSKernel, resolver: any NameResolver = NumericResolver(), programName: String = "ipvsctl")
    {
        self.init(programName: programName, resolver: resolver, kernel: { () throws(IPVSError) in kernel })
    }

    public var parser: IpvsadmParser { IpvsadmParser(programName: programName, resolver: resolver) }

    /// Runs one ipvsadm argument vector (without the program name).
    /// - Parameter stdin: read for `-R`.
    public func run(_ arguments: [String], stdin: () -> String = { "" }) -> AdminOutput {
        if arguments.isEmpty { return execute(.list(.all, []), stdin: stdin) }
        do {
            return execute(try parser.parse(arguments), stdin: stdin)
        } catch {
            var output = AdminOutput()
            output.fail(error)
            return output
        }
    }

    /// Runs a parsed command.
    public func execute(_ command: AdminCommand, stdin: () -> String = { "" }) -> AdminOutput {
        var output = AdminOutput()
        switch command {
        case .help:
            output.stdout = HelpText.usage(program: programName)
            return output
        case .version:
            output.stdout = HelpText.versionLine(program: programName)
            return output
        default:
            break
        }
        let kernel: any IPVSKernel
        do {
            kernel = try kernelProvider()
        } catch {
            output.fail(Self.initializationError(error))
            return output
        }
        switch command {
        case .list(let target, let format):
            list(target, format: format, kernel: kernel, into: &output)
        case .save(let format):
            list(.all, format: format, kernel: kernel, into: &output)
        case .restore:
            restore(stdin(), kernel: kernel, into: &output)
        default:
            guard let operation = command.operation else { return output }
            if let failure = kernel.apply([operation], progress: nil).failures.first {
                report(failure.error, operation: operation, prefix: "", into: &output)
                output.status = 255
            }
        }
        return output
    }

    /// ipvsadm's message when IPVS cannot be reached, plus a hint.
    public static func initializationError(_ error: IPVSError) -> AdminError {
        var reason = error.errno.map { _ in KernelErrorText.message(error, operation: nil) } ?? "Protocol not available"
        if error.code == .permissionDenied { reason = "Permission denied (you must be root)" }
        var text =
            "Can't initialize ipvs: \(reason)\nAre you sure that IP Virtual Server is built in the kernel or as module?"
        if error.code == .permissionDenied {
            text += "\nhint: IPVS needs CAP_NET_ADMIN (in the host's initial user namespace): run as root"
        } else if let hint = KernelErrorText.hint(error, operation: nil) {
            text += "\n" + hint
        } else {
            text += "\nhint: \(error.message); is the ip_vs module loaded (`modprobe ip_vs`)?"
        }
        return AdminError(text, status: 2)
    }

    private func report(_ error: IPVSError, operation: IPVSOperation?, prefix: String, into output: inout AdminOutput) {
        output.stderr += prefix + KernelErrorText.message(error, operation: operation) + "\n"
        if let hint = KernelErrorText.hint(error, operation: operation, programName: programName) {
            output.stderr += hint + "\n"
        }
    }

    // MARK: Reading

    /// Every service with its real servers, in kernel order.
    public static func snapshot(_ kernel: any IPVSKernel) throws(IPVSError) -> [ServiceEntry] {
        var entries: [ServiceEntry] = []
        for service in try kernel.services() {
            entries.append(ServiceEntry(service: service, servers: try kernel.servers(of: service.virtualServer.id)))
        }
        return entries
    }

    private func list(_ target: ListTarget, format: ListFormat, kernel: any IPVSKernel, into output: inout AdminOutput)
    {
        let printer = ListPrinter(format: format, resolver: resolver)
        do {
            switch target {
            case .all:
                let info = format.contains(.rule) ? IPVSInfo(versionCode: 0, connectionTableSize: 0) : try kernel.info()
                output.stdout += printer.table(try Self.snapshot(kernel), info: info)
            case .service(let id):
                let service = try kernel.service(id)
                output.stdout += printer.single(ServiceEntry(service: service, servers: try kernel.servers(of: id)))
            case .timeouts:
                let t = try kernel.timeouts()
                output.stdout += "Timeout (tcp tcpfin udp): \(t.tcp) \(t.tcpFin) \(t.udp)\n"
            case .daemons:
                output.stdout += Self.daemonLines(try kernel.daemons())
            case .connections:
                guard let text = connectionTable() else {
                    output.fail(AdminError("cannot open file /proc/net/ip_vs_conn", status: 1))
                    return
                }
                output.stdout += ConnectionPrinter(format: format, resolver: resolver).table(text)
            }
        } catch {
            report(error, operation: nil, prefix: "", into: &output)
            output.status = 1
        }
    }

    /// `list_daemon`.
    public static func daemonLines(_ daemons: [SyncDaemon]) -> String {
        var out = ""
        for daemon in daemons.prefix(2) {
            let type: String
            if daemon.state.rawValue & SyncDaemon.State.master.rawValue != 0 {
                type = "master"
            } else if daemon.state.rawValue & SyncDaemon.State.backup.rawValue != 0 {
                type = "backup"
            } else {
                continue
            }
            out += "\(type) sync daemon (mcast=\(daemon.interface), syncid=\(Int32(bitPattern: daemon.syncID))"
            if let n = daemon.maximumLength, n != 0 { out += ", maxlen=\(n)" }
            if let group = daemon.multicastGroup { out += ", group=\(group)" }
            if let port = daemon.multicastPort, port != 0 { out += ", port=\(port)" }
            if let ttl = daemon.multicastTTL, ttl != 0 { out += ", ttl=\(ttl)" }
            out += ")\n"
        }
        return out
    }

    // MARK: Restore

    private func restore(_ text: String, kernel: any IPVSKernel, into output: inout AdminOutput) {
        let lines: [RestoreLine]
        do {
            lines = try RestoreParser.parse(text, parser: parser)
        } catch {
            output.fail(AdminError(error.description, status: 2))
            return
        }
        let operations = lines.compactMap(\.command.operation)
        let result = kernel.apply(operations, progress: progress)
        for failure in result.failures {
            report(
                failure.error,
                operation: failure.operation,
                prefix: "line \(lines[failure.index].line): ",
                into: &output
            )
        }
        if !result.failures.isEmpty { output.status = 255 }
    }
}
