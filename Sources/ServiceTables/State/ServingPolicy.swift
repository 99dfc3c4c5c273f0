import IPVS

/// What one desired real server should be in the kernel.
enum ServingDecision: Sendable, Hashable {
    /// In the kernel as given (its desired weight, or 0 for a health failure with `.weightZero`).
    case serve(RealServer)
    /// Failed its health checks with `.delete`: out of the kernel at once, without draining.
    case healthDelete
    /// Failed its health checks with `.weightZero`: kept at weight 0.
    case healthWeightZero(RealServer)
    /// Not selected by its conditions (not ready, or terminating while others are ready): drained.
    case notSelected
}

/// Decides which endpoints of one desired virtual server serve: conditions first, then health, then the
/// all-down policy. Computed once per virtual server in two passes without allocating.
struct ServingPolicy {
    private let service: DesiredVirtualServer
    private let health: [HealthTarget: HealthStatus]
    /// No endpoint is ready: serving terminating endpoints stand in (Kubernetes' fallback).
    private let terminatingFallback: Bool
    /// Health checks failed for every selected endpoint and the policy keeps them all.
    private let ignoreHealth: Bool

    init(_ service: DesiredVirtualServer, health: [HealthTarget: HealthStatus]) {
        self.service = service
        self.health = health
        let fallback = !service.realServers.values.contains { $0.conditions.ready }
        terminatingFallback = fallback
        var ignore = false
        if let spec = service.healthCheck, service.allDownPolicy == .keepAll {
            var anySelected = false
            var anyHealthy = false
            for endpoint in service.realServers.values
            where ServingPolicy.selected(endpoint.conditions, fallback: fallback) {
                anySelected = true
                if ServingPolicy.mayServe(endpoint.id, spec: spec, health: health) {
                    anyHealthy = true
                    break
                }
            }
            ignore = anySelected && !anyHealthy
        }
        ignoreHealth = ignore
    }

    /// The decision for one of the service's endpoints.
    func decide(_ endpoint: DesiredRealServer) -> ServingDecision {
        guard ServingPolicy.selected(endpoint.conditions, fallback: terminatingFallback) else { return .notSelected }
        guard let spec = service.healthCheck, !ignoreHealth,
            !ServingPolicy.mayServe(endpoint.id, spec: spec, health: health)
        else { return .serve(endpoint.realServer) }
        switch spec.failureAction {
        case .delete:
            return .healthDelete
        case .weightZero:
            var quiet = endpoint.realServer
            quiet.weight = 0
            return .healthWeightZero(quiet)
        }
    }

    private static func selected(_ conditions: EndpointConditions, fallback: Bool) -> Bool {
        fallback ? conditions.serving && conditions.terminating : conditions.ready
    }

    private static func mayServe(
        _ id: RealServer.ID,
        spec: HealthCheckSpec,
        health: [HealthTarget: HealthStatus]
    ) -> Bool {
        health[HealthTarget(realServer: id, spec: spec)]?.mayServe ?? true
    }
}
