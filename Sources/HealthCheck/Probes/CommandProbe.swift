import Foundation
import ServiceTables
import Synchronization

/// Runs a check command directly (no shell): exit status 0 is healthy, and the command is killed
/// (SIGKILL) at the target's timeout. The child waits off the event loops, in Foundation's process monitor.
enum CommandProbe {
    static func run(argv: [String], target: HealthTarget) async -> ProbeResult {
        let began = ContinuousClock.now
        guard let executable = argv.first, !executable.isEmpty else {
            return .failure("command is empty")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(argv.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["IPVS_CHECK_ADDRESS"] = target.address.description
        environment["IPVS_CHECK_PORT"] = String(target.port)
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice

        let killed = Kill()
        let reason = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            process.terminationHandler = { process in
                killed.timer.withLock { $0?.source.cancel() }
                continuation.resume(
                    returning: describe(process, killedAtTimeout: killed.fired.load(ordering: .acquiring))
                )
            }
            do {
                try process.run()
            } catch {
                continuation.resume(returning: "cannot run \(executable): \(error.localizedDescription)")
                return
            }
            let pid = process.processIdentifier
            // A Dispatch timer, not a sleeping task: the kill must fire even when the cooperative pool's few
            // threads are all busy (a long manifest load, other probes), or a hung command outlives its timeout.
            // Not on `.global()` either: on Linux that pool is as wide as the CPUs and shared with the rest of
            // the process (a unit run beside a VM bench once saw a killed probe return 30 s late while it was
            // the timer's queue).
            let timer = DispatchSource.makeTimerSource(queue: killQueue)
            timer.schedule(deadline: .now() + .nanoseconds(Int(clamping: target.timeout.nanoseconds)))
            timer.setEventHandler {
                guard process.isRunning else { return }
                killed.fired.store(true, ordering: .releasing)
                kill(pid, SIGKILL)
            }
            killed.timer.withLock { $0 = KillTimer(source: timer) }
            timer.resume()
        }
        let latency = began.duration(to: .now)
        return ProbeResult(success: reason == "ok", reason: reason, latency: latency)
    }

    /// The queue of the kill timers: a serial queue of its own is overcommitting (it gets a thread even when
    /// the global pool's are all busy), and the handlers only send a signal.
    private static let killQueue = DispatchQueue(label: "ipvsd.command-probe.kill")

    private static func describe(_ process: Process, killedAtTimeout: Bool) -> String {
        switch process.terminationReason {
        case .exit where process.terminationStatus == 0: "ok"
        case .exit: "exit status \(process.terminationStatus)"
        case .uncaughtSignal where killedAtTimeout: "timeout"
        case .uncaughtSignal: "killed by signal \(process.terminationStatus)"
        @unknown default: "exit status \(process.terminationStatus)"
        }
    }

    /// Dispatch sources may be cancelled from any thread; the type just does not say so.
    private struct KillTimer: @unchecked Sendable {
        let source: any DispatchSourceTimer
    }

    /// The timeout's kill timer, and whether it fired (a signal death at the timeout is a timeout).
    private final class Kill: Sendable {
        let timer = Mutex<KillTimer?>(nil)
        let fired = Atomic<Bool>(false)
    }
}
