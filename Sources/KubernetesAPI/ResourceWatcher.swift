import IPVS
import KubernetesManifests
import KubernetesWire
import Logging
import NIOCore

/// What a watcher hands its owner.
public enum ResourceUpdate: Sendable {
    /// A complete list from one snapshot: every object of the resource. Keys listed as rejected keep what
    /// was held for them; any other held key is gone.
    case listed([ReadObject])
    /// One page of a watcher's first list, as it arrives: each object added or changed, nothing removed.
    /// The whole list follows as `.listed` (again holding these objects) once its last page is in, or the
    /// list starts over; so the owner can build from the objects while the rest is fetched, and must
    /// deliver nothing before `.listed`.
    case page([ReadObject])
    /// One object added or changed (or rejected: its held value stays).
    case changed(ReadObject)
    case deleted(ObjectKey)
}

/// Lists one resource, then watches it from the list's resourceVersion, for as long as its task runs
/// (client-go's reflector, as the Kubernetes "API Concepts" page describes the protocol):
/// - lists page by page (`limit`, then `continue` until the server returns none; a page may hold fewer
///   objects than the limit); an expired continue token (410) starts the list again;
/// - watches with `allowWatchBookmarks=true` and `timeoutSeconds`; every event and bookmark advances the
///   resourceVersion, and when the server ends the watch or the connection breaks, the next watch starts
///   from it, without a list;
/// - relists only on 410 Gone (HTTP status or an ERROR event with code 410);
/// - waits after any other failure: exponential backoff with jitter, or the server's Retry-After on 429.
/// An object that fails its rules, or a line over its budget, is counted and logged; the objects held
/// stay as they were.
struct ResourceWatcher: Sendable {
    let resource: APIResource
    let client: APIClient
    let proxyName: String?
    let status: StatusCell
    let logger: Logger
    let deliver: @Sendable (ResourceUpdate) async -> Void

    func run() async {
        var resourceVersion: String?
        var backoff = Backoff(initial: client.limits.initialBackoff, maximum: client.limits.maxBackoff)
        var listed = false
        while !Task.isCancelled {
            do throws(KubernetesAPIError) {
                if resourceVersion == nil {
                    status.update { $0.state = .listing }
                    let began = ContinuousClock.now
                    // Only the first list goes page by page: nothing is programmed before it ends, so the
                    // owner's early building is all gain; a relist's delta stays one delivery.
                    var onPage: (@Sendable ([ReadObject]) async -> Void)?
                    if !listed {
                        let deliver = deliver
                        onPage = { @Sendable objects in await deliver(.page(objects)) }
                    }
                    let (objects, version) = try await listAll(onPage: onPage)
                    // Where a slow start went: each list's length, beside the first sync's steps.
                    logger.info(
                        "listed",
                        metadata: [
                            "resource": "\(resource)", "objects": "\(objects.count)",
                            "duration_ms": "\((ContinuousClock.now - began).milliseconds)",
                            "relist": "\(listed)",
                        ]
                    )
                    await deliver(.listed(objects))
                    resourceVersion = version
                    status.update {
                        if listed { $0.relists += 1 }
                        $0.synced = true
                        $0.resourceVersion = version
                        $0.lastError = nil
                    }
                    listed = true
                }
                status.update { $0.state = .watching }
                let began = ContinuousClock.now
                let heard = try await watch(from: &resourceVersion, backoff: &backoff)
                // The server ended the watch (timeoutSeconds): renew it from where it reached. A server that
                // ends every watch at once, with nothing in it, is not asked again at once; a quiet watch that
                // ran its course (no changes, no bookmarks) is renewed at once, or an idle cluster's changes
                // would wait out a backoff grown over every quiet period.
                status.update { $0.watchRestarts += 1 }
                if heard || ContinuousClock.now - began >= Self.quietWatchMinimum {
                    backoff.reset()
                } else {
                    try? await Task.sleep(for: backoff.next())
                }
            } catch {
                if Task.isCancelled { return }
                status.update {
                    $0.apiErrors += 1
                    $0.lastError = error.message
                    $0.state = .backingOff
                    if resourceVersion != nil { $0.watchRestarts += 1 }
                }
                if error.code == .gone {
                    logger.notice(
                        "resourceVersion expired; relisting",
                        metadata: ["resource": "\(resource)", "error": "\(error.message)"]
                    )
                    resourceVersion = nil
                }
                let delay = Self.delay(for: error, backoff: &backoff)
                logger.warning(
                    "Kubernetes API request failed; the last good state stays programmed",
                    metadata: [
                        "resource": "\(resource)", "code": "\(error.code)", "error": "\(error.message)",
                        "retry_in": "\(delay)",
                    ]
                )
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// A watch the server ended after at least this long was not refused, even with nothing in it.
    static let quietWatchMinimum: Duration = .seconds(5)

    /// How long to wait after `error`: the server's Retry-After (at most 10 minutes), else the backoff's next
    /// step.
    static func delay(for error: KubernetesAPIError, backoff: inout Backoff) -> Duration {
        error.retryAfter.map { Duration.seconds(min(max($0, 0), 600)) } ?? backoff.next()
    }

    /// Every page of one list, with the resourceVersion of its snapshot (``PagedList``: each page decoded
    /// while the next is fetched).
    /// - Parameter onPage: given each page's objects as it is decoded, in list order; a list that starts
    ///   over (an expired continue token) gives its pages again.
    func listAll(
        onPage: (@Sendable ([ReadObject]) async -> Void)? = nil
    ) async throws(KubernetesAPIError) -> ([ReadObject], String) {
        let (client, resource, proxyName) = (client, resource, proxyName)
        let selector = ProxyLabels.selector(claiming: proxyName)
        let pages = PagedList(
            fetch: { token throws(KubernetesAPIError) in
                try await client.listPage(resource, selector: selector, continueToken: token)
            },
            decode: { buffer throws(KubernetesAPIError) in
                try APIPayloads.page(buffer, resource: resource, claiming: proxyName)
            }
        )
        var expiredRestarts = 0
        while true {
            var objects: [ReadObject] = []
            var version = ""
            var continued = false
            do throws(KubernetesAPIError) {
                try await pages.forEachPage(continued: &continued) { page throws(KubernetesAPIError) in
                    reject(page.unkeyed.map(\.description))
                    for object in page.objects {
                        if case .failure(let errors) = object.value { reject(errors.errors.map(\.description)) }
                    }
                    objects += page.objects
                    guard objects.count <= client.limits.maxObjects else {
                        throw KubernetesAPIError(
                            .tooLarge,
                            "\(resource) list holds more than \(client.limits.maxObjects) objects, the limit"
                        )
                    }
                    version = page.resourceVersion
                    await onPage?(page.objects)
                }
                return (objects, version)
            } catch {
                // The snapshot behind a continue token was compacted: start the list again.
                guard error.code == .gone, continued, expiredRestarts < 3 else { throw error }
                expiredRestarts += 1
            }
        }
    }

    /// One watch, until the server ends it; `resourceVersion` follows every event and bookmark.
    /// - Returns: whether the server sent any line.
    private func watch(
        from resourceVersion: inout String?,
        backoff: inout Backoff
    ) async throws(KubernetesAPIError)
        -> Bool
    {
        guard let start = resourceVersion else { return false }
        let body = try await client.watch(
            resource,
            selector: ProxyLabels.selector(claiming: proxyName),
            resourceVersion: start
        )
        var lines = EventLines(maxLineBytes: client.limits.maxEventLineBytes)
        var heard = false
        do {
            for try await chunk in body {
                for line in lines.append(chunk) {
                    heard = true
                    guard case .event(let buffer) = line else {
                        if case .oversized(let length) = line {
                            reject([
                                "\(resource) watch event of \(length) bytes is over the \(lines.maxLineBytes)-byte limit"
                            ])
                        }
                        continue
                    }
                    try await handle(buffer, resourceVersion: &resourceVersion)
                    backoff.reset()
                }
            }
        } catch let error as KubernetesAPIError {
            throw error
        } catch {
            throw client.describe(error, resource: resource)
        }
        if lines.hasPartialLine {
            throw KubernetesAPIError(.connection, "\(resource) watch ended in the middle of an event")
        }
        return heard
    }

    private func handle(_ line: ByteBuffer, resourceVersion: inout String?) async throws(KubernetesAPIError) {
        // The line is whole: from here on the time is ipvsd's (decode, rebuild, debounce, kernel).
        let received = ContinuousClock.now
        let event: APIPayloads.Event
        do throws(KubernetesAPIError) {
            event = try APIPayloads.event(line, resource: resource, claiming: proxyName)
        } catch {
            reject([error.message])
            return
        }
        let object: ReadObject
        switch event {
        case .bookmark(let version):
            resourceVersion = version
            status.update { $0.resourceVersion = version }
            return
        case .error(let code, let message):
            throw KubernetesAPIError(
                code == 410 ? .gone : .server,
                "\(resource) watch ERROR event\(code.map { " \($0)" } ?? ""): \(message)"
            )
        case .added(let read), .modified(let read):
            object = read
            if case .failure(let errors) = read.value { reject(errors.errors.map(\.description)) }
            await WatchEventClock.$receivedAt.withValue(received) { await deliver(.changed(read)) }
        case .deleted(let read):
            object = read
            await WatchEventClock.$receivedAt.withValue(received) { await deliver(.deleted(read.key)) }
        }
        if !object.resourceVersion.isEmpty {
            resourceVersion = object.resourceVersion
            status.update {
                $0.resourceVersion = object.resourceVersion
                $0.lastError = nil
            }
        }
    }

    private func reject(_ messages: [String]) {
        guard !messages.isEmpty else { return }
        status.update { $0.rejectedObjects += messages.count }
        for message in messages.prefix(20) {
            logger.error(
                "Kubernetes object rejected; what was held for it stays",
                metadata: ["resource": "\(resource)", "error": "\(message)"]
            )
        }
    }
}

/// Exponential backoff with full jitter: each wait is random in [d/2, d], d doubling up to `maximum`.
struct Backoff: Sendable {
    let initial: Duration
    let maximum: Duration
    private var current: Duration

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
        current = initial
    }

    mutating func next() -> Duration {
        let ceiling = current
        current = min(current * 2, maximum)
        let nanos = ceiling.nanoseconds
        return .nanoseconds(Int64.random(in: nanos / 2...max(nanos / 2, nanos)))
    }

    mutating func reset() { current = initial }
}
