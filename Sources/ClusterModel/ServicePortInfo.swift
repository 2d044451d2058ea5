import KubeModel

/// Everything rule synthesis needs about one Service port, flattened from the Service.
public struct ServicePortInfo: Hashable, Sendable {
    public var name: ServicePortName
    public var port: UInt16
    public var nodePort: UInt16?
    public var targetPort: IntOrString?
    public var type: ServiceType
    public var clusterIPs: [IPAddress]
    public var externalIPs: [IPAddress]
    /// Ingress IPs of a LoadBalancer, without those in `ipMode: Proxy` (the LB rewrites the destination).
    public var loadBalancerIPs: [IPAddress]
    public var loadBalancerSourceRanges: [CIDR]
    /// ClientIP affinity timeout in seconds; nil without affinity.
    public var sessionAffinityTimeout: Int?
    /// `externalTrafficPolicy: Local` on a Service reachable from outside (kube-proxy's `ExternalPolicyLocal`).
    public var externalPolicyLocal: Bool
    public var internalPolicyLocal: Bool
    public var healthCheckNodePort: UInt16?
    public var trafficDistribution: String?
    /// The `service.kubernetes.io/topology-mode` annotation (or its older `topology-aware-hints` name).
    public var topologyAnnotation: String?
    /// False when another proxy owns the Service (`service.kubernetes.io/service-proxy-name`).
    public var proxied: Bool

    public init(
        name: ServicePortName, port: UInt16, nodePort: UInt16? = nil, targetPort: IntOrString? = nil,
        type: ServiceType = .clusterIP, clusterIPs: [IPAddress], externalIPs: [IPAddress] = [],
        loadBalancerIPs: [IPAddress] = [], loadBalancerSourceRanges: [CIDR] = [], sessionAffinityTimeout: Int? = nil,
        externalPolicyLocal: Bool = false, internalPolicyLocal: Bool = false, healthCheckNodePort: UInt16? = nil,
        trafficDistribution: String? = nil, topologyAnnotation: String? = nil, proxied: Bool = true
    ) {
        self.name = name
        self.port = port
        self.nodePort = nodePort
        self.targetPort = targetPort
        self.type = type
        self.clusterIPs = clusterIPs
        self.externalIPs = externalIPs
        self.loadBalancerIPs = loadBalancerIPs
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.sessionAffinityTimeout = sessionAffinityTimeout
        self.externalPolicyLocal = externalPolicyLocal
        self.internalPolicyLocal = internalPolicyLocal
        self.healthCheckNodePort = healthCheckNodePort
        self.trafficDistribution = trafficDistribution
        self.topologyAnnotation = topologyAnnotation
        self.proxied = proxied
    }

    /// NodePort, LoadBalancer or externalIPs: traffic can arrive from outside the cluster.
    public var isExternallyAccessible: Bool {
        type == .nodePort || type == .loadBalancer || !externalIPs.isEmpty
    }

    /// kube-proxy's `UsesClusterEndpoints`: some traffic to this port may go to any endpoint. External
    /// traffic needs them even under a Local policy, for the short-circuit of pod- and node-originated traffic.
    public var usesClusterEndpoints: Bool {
        !internalPolicyLocal || isExternallyAccessible
    }

    /// kube-proxy's `UsesLocalEndpoints`: some traffic to this port must stay on this node.
    public var usesLocalEndpoints: Bool {
        internalPolicyLocal || (isExternallyAccessible && externalPolicyLocal)
    }

    public static let topologyModeAnnotation = "service.kubernetes.io/topology-mode"
    public static let topologyHintsAnnotation = "service.kubernetes.io/topology-aware-hints"

    /// Builds the infos for each port of a Service, in spec order; empty for headless and ExternalName.
    public static func ports(of service: Service, proxied: Bool) -> [ServicePortInfo] {
        let spec = service.spec
        guard !spec.isHeadless, spec.type != .externalName, !spec.clusterIPs.isEmpty else { return [] }
        let key = ServiceKey(namespace: service.metadata.namespace, name: service.metadata.name)
        let loadBalancerIPs =
            spec.type == .loadBalancer
            ? service.status.loadBalancerIngress.compactMap { $0.ipMode == "Proxy" ? nil : $0.ip } : []
        let annotations = service.metadata.annotations
        return spec.ports.map { port in
            var info = ServicePortInfo(
                name: ServicePortName(service: key, port: port.name, protocol: port.protocol),
                port: port.port.value,
                nodePort: spec.type == .nodePort || spec.type == .loadBalancer ? port.nodePort?.value : nil,
                targetPort: port.targetPort,
                type: spec.type,
                clusterIPs: spec.clusterIPs,
                externalIPs: spec.externalIPs,
                loadBalancerIPs: loadBalancerIPs,
                loadBalancerSourceRanges: spec.type == .loadBalancer ? spec.loadBalancerSourceRanges : [],
                sessionAffinityTimeout: spec.sessionAffinity == .clientIP ? spec.sessionAffinityTimeoutSeconds : nil,
                internalPolicyLocal: spec.internalTrafficPolicy == .local,
                trafficDistribution: spec.trafficDistribution,
                topologyAnnotation: annotations[topologyModeAnnotation] ?? annotations[topologyHintsAnnotation],
                proxied: proxied
            )
            info.externalPolicyLocal = info.isExternallyAccessible && spec.externalTrafficPolicy == .local
            if info.externalPolicyLocal && spec.type == .loadBalancer {
                info.healthCheckNodePort = spec.healthCheckNodePort?.value
            }
            return info
        }
    }
}
