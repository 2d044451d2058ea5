import KubeModel

/// How topology narrowed the cluster endpoints, if it did.
public enum TopologyMode: String, Hashable, Sendable {
    /// `hints.forNodes` matched this node (trafficDistribution PreferSameNode).
    case sameNode = "kubernetes.io/hostname"
    /// `hints.forZones` matched this node's zone (PreferClose, PreferSameZone, or the topology-mode annotation).
    case sameZone = "topology.kubernetes.io/zone"
}

/// The endpoints one node uses for one Service port, split the way kube-proxy's `CategorizeEndpoints` does.
public struct EndpointCategories: Hashable, Sendable {
    /// Used for traffic under a Cluster policy.
    public var cluster: [ServiceEndpoint] = []
    /// Used for traffic under a Local policy.
    public var local: [ServiceEndpoint] = []
    /// The union of the two that this node can reach at all; affinity sets and masquerade rules cover these.
    public var allReachable: [ServiceEndpoint] = []
    /// False means "reject": no usable endpoint exists anywhere in the cluster.
    public var hasAnyEndpoints = false
    public var topologyMode: TopologyMode?
}

/// kube-proxy's endpoint selection (`pkg/proxy/topology.go`), as a pure function.
public enum EndpointCategorizer {
    public static func categorize(
        _ endpoints: [ServiceEndpoint], for port: ServicePortInfo, nodeName: String, zone: String?
    ) -> EndpointCategories {
        var result = EndpointCategories()
        if port.usesClusterEndpoints {
            let mode = topologyMode(endpoints, port: port, nodeName: nodeName, zone: zone)
            result.topologyMode = mode
            result.cluster = endpoints.filter { $0.ready && isAvailable($0, mode: mode, nodeName: nodeName, zone: zone) }
            // Falling back to terminating endpoints ignores topology: it is a best effort to not drop traffic.
            if result.cluster.isEmpty {
                result.cluster = endpoints.filter { $0.serving && $0.terminating }
            }
            result.hasAnyEndpoints = !result.cluster.isEmpty
        }
        guard port.usesLocalEndpoints else {
            result.allReachable = result.cluster
            return result
        }

        var hasLocalReady = false
        var hasLocalServingTerminating = false
        for endpoint in endpoints {
            if endpoint.ready {
                result.hasAnyEndpoints = true
                if endpoint.isLocal(to: nodeName) { hasLocalReady = true }
            } else if endpoint.serving && endpoint.terminating {
                result.hasAnyEndpoints = true
                if endpoint.isLocal(to: nodeName) { hasLocalServingTerminating = true }
            }
        }
        if hasLocalReady {
            result.local = endpoints.filter { $0.isLocal(to: nodeName) && $0.ready }
        } else if hasLocalServingTerminating {
            result.local = endpoints.filter { $0.isLocal(to: nodeName) && $0.serving && $0.terminating }
        }

        if !port.usesClusterEndpoints || result.cluster.isEmpty {
            result.allReachable = result.local
        } else if result.local.isEmpty {
            result.allReachable = result.cluster
        } else {
            result.allReachable = Array(Set(result.cluster).union(result.local)).sorted()
        }
        return result
    }

    /// Whether this Service asked for topology-aware routing at all.
    static func wantsTopology(_ port: ServicePortInfo) -> Bool {
        switch port.trafficDistribution {
        case "PreferClose", "PreferSameZone", "PreferSameNode": return true
        default: break
        }
        // Only these two spellings enable hints; upstream ignores "aUto" and every other value.
        return port.topologyAnnotation == "Auto" || port.topologyAnnotation == "auto"
    }

    /// kube-proxy's `topologyModeFromHints`: hints count only when every ready endpoint carries them
    /// and at least one names this node (or zone); otherwise all endpoints are used.
    static func topologyMode(
        _ endpoints: [ServiceEndpoint], port: ServicePortInfo, nodeName: String, zone: String?
    ) -> TopologyMode? {
        guard wantsTopology(port) else { return nil }
        var hasEndpointForNode = false
        var allHaveNodeHints = true
        var hasEndpointForZone = false
        var allHaveZoneHints = true
        var anyReady = false
        for endpoint in endpoints where endpoint.ready {
            anyReady = true
            if endpoint.nodeHints.isEmpty {
                allHaveNodeHints = false
            } else if endpoint.nodeHints.contains(nodeName) {
                hasEndpointForNode = true
            }
            if endpoint.zoneHints.isEmpty {
                allHaveZoneHints = false
            } else if let zone, endpoint.zoneHints.contains(zone) {
                hasEndpointForZone = true
            }
        }
        guard anyReady else { return nil }
        if allHaveNodeHints && hasEndpointForNode { return .sameNode }
        if allHaveZoneHints && hasEndpointForZone { return .sameZone }
        return nil
    }

    static func isAvailable(_ endpoint: ServiceEndpoint, mode: TopologyMode?, nodeName: String, zone: String?) -> Bool {
        switch mode {
        case nil: return true
        case .sameNode: return endpoint.nodeHints.contains(nodeName)
        case .sameZone: return zone.map { endpoint.zoneHints.contains($0) } ?? false
        }
    }
}
