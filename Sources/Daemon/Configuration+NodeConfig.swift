import KubeModel
import RuleSynth

extension Configuration {
    /// What rule synthesis needs from this configuration and the node's own object.
    ///
    /// The node IPs are the Node's InternalIPs (its ExternalIPs when it has none), as kube-proxy picks its
    /// primary node IPs. `detectLocalMode: NodeCIDR` makes the node's podCIDRs the "inside the cluster"
    /// sources instead of `clusterCIDR`. Without a Node object (not yet seen, or deleted) there are no node
    /// IPs: NodePorts then accept nothing until it arrives, rather than guessing.
    public func nodeConfig(nodeName: String, node: Node?) -> NodeConfig {
        let internalIPs = node?.addresses.compactMap { $0.type == "InternalIP" ? IPAddress($0.address) : nil } ?? []
        let externalIPs = node?.addresses.compactMap { $0.type == "ExternalIP" ? IPAddress($0.address) : nil } ?? []
        let localSources: [CIDR]
        switch detectLocalMode {
        case .clusterCIDR: localSources = clusterCIDRs
        case .nodeCIDR: localSources = node?.podCIDRs ?? []
        }
        let nodePortCIDRs = nodePortAddresses.compactMap { address -> CIDR? in
            if case .cidr(let cidr) = address { return cidr }
            return nil
        }
        return NodeConfig(
            nodeName: nodeName,
            nodeIPs: internalIPs.isEmpty ? externalIPs : internalIPs,
            nodePortAddresses: nodePortCIDRs,
            clusterCIDRs: localSources,
            masqueradeBit: masqueradeBit,
            masqueradeAll: masqueradeAll,
            zone: node?.zone
        )
    }
}
