/// When the watch event being delivered was read off the connection, for the agent's event-to-kernel
/// latency (`ipvsd_kubernetes_event_to_kernel_seconds`). A task-local rather than a parameter: the instant
/// rides through `KubernetesSource`'s delivery to whoever applies it without changing the delivery's
/// signature; lists and anything delivered outside a watch event see nil.
public enum WatchEventClock {
    @TaskLocal public static var receivedAt: ContinuousClock.Instant?
}
