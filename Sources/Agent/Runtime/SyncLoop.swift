import Foundation
import Logging
import ServiceLifecycle

import enum KubernetesManifests.ManifestFiles

/// Drives the agent: ticks at each event's debounce end (woken when an event comes in during a sleep) and at
/// least every `tickInterval` for timed work (full resync period, drain checks, retries). Ends at graceful
/// shutdown, leaving the kernel as it is.
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
                // A manifest load runs beside the ticks, which go on syncing health transitions.
                await agent.tick(waitForReload: false)
                let periodic = ContinuousClock.now + tickInterval
                let deadline = await agent.nextDeadline.map { min($0, periodic) } ?? periodic
                await agent.wakeup.wait(sleeping: { try await Task.sleep(until: deadline) })
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

    /// What the loader would read, through the same walker; nil when the path cannot be listed, so a failed
    /// listing reads as "unknown" (the reload it triggers reports the error) and never as "now empty".
    static func fingerprint(_ path: String) -> [String]? {
        guard let listing = try? ManifestFiles.list(path) else { return nil }
        return listing.files.map { "\($0.path) \($0.size) \($0.modified) \($0.device):\($0.inode)" } + listing.notes
    }
}
