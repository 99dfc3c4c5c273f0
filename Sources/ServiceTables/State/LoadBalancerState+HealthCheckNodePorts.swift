extension LoadBalancerState {
    /// Replaces the healthCheckNodePorts' answers, for sources that update virtual servers by delta
    /// (`updateDesired`) and so never pass a whole desired state.
    public mutating func setHealthCheckNodePorts(_ ports: [UInt16: HealthCheckNodePort]) {
        desiredState.healthCheckNodePorts = ports
    }
}
