import Foundation
import Logging
import ServiceLifecycle

/// Drives the agent: ticks at each event's debounce end and at least every `tickInterval` for timed work
/// (full resync period, drain checks, retries). Ends at graceful shutdown, leaving the kernel as it is.
public struct SyncLoop: Service {
    let agent: Agent
    let tickInterval: Duration

    public init(agent: Agent, tickInterval: Duration = .milliseconds(250)) {
        self.agent = agent
        self.tickInterval = tickInterval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await agent.tick()
                let periodic = ContinuousClock.now + tickInterval
                let deadline = await agent.nextDeadline.map { min($0, periodic) } ?? periodic
                try? await Task.sleep(until: deadline)
            }
        }
    }
}

/// Polls the manifests for changes (path, size and modification time of each file) and asks the agent to
/// reload when anything differs. Cheap for the handful of files a manifest directory holds.
public struct ManifestWatcher: Service {
    let agent: Agent
    let path: String
    let interval: Duration

    public init(agent: Agent, path: String, interval: Duration) {
        self.agent = agent
        self.path = path
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var last = Self.fingerprint(path)
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                let current = Self.fingerprint(path)
                if current != last {
                    last = current
                    await agent.requestReload()
                }
            }
        }
    }

    static func fingerprint(_ path: String) -> [String] {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        var files = [path]
        if isDirectory.boolValue, let enumerator = manager.enumerator(atPath: path) {
            files = enumerator.compactMap { ($0 as? String).map { "\(path)/\($0)" } }.sorted()
        }
        return files.map { file in
            let attributes = try? manager.attributesOfItem(atPath: file)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(file) \(size) \(modified)"
        }
    }
}
