import ClusterModel
import KubeModel

/// Decides which UDP conntrack entries point at backends that no longer serve, after kube-proxy's
/// conntrack reconciler (`pkg/proxy/conntrack/cleanup.go`).
///
/// UDP has no connection end, so a flow DNATed to a deleted pod keeps black-holing until its conntrack
/// entry expires. An entry is stale when it was addressed to a Service IP and port (or a NodePort) and its
/// reply comes from an address that is not a serving endpoint of that Service. Services with no serving
/// endpoint at all are included, so flows to them are cleared too.
public struct StaleFlowFilter: Hashable, Sendable {
    public struct Destination: Hashable, Sendable {
        public var address: IPAddress
        public var port: UInt16
    }

    /// Serving endpoint IPs per Service IP (cluster, external and load-balancer IPs) and port.
    public var servicePorts: [Destination: Set<IPAddress>] = [:]
    /// Serving endpoint IPs per NodePort, whatever node address the flow was sent to.
    public var nodePorts: [UInt16: Set<IPAddress>] = [:]

    public init(snapshot: ClusterSnapshot) {
        self.init(ports: snapshot.servicePorts.values.map { ($0, snapshot.endpoints(for: $0.name)) })
    }

    /// The same from Service ports and their endpoints directly, as the rule synthesizer holds them.
    public init(ports: some Sequence<(ServicePortInfo, [ServiceEndpoint])>) {
        for (port, endpoints) in ports where port.proxied && port.name.protocol == .udp {
            let serving = Set(endpoints.filter(\.serving).map(\.address))
            for address in port.clusterIPs + port.externalIPs + port.loadBalancerIPs {
                servicePorts[Destination(address: address, port: port.port), default: []].formUnion(serving)
            }
            if let nodePort = port.nodePort { nodePorts[nodePort, default: []].formUnion(serving) }
        }
    }

    public var isEmpty: Bool { servicePorts.isEmpty && nodePorts.isEmpty }

    /// Whether a UDP entry with this original destination and reply source should be deleted.
    public func isStale(originalDestination: IPAddress, port: UInt16, replySource: IPAddress) -> Bool {
        if let serving = servicePorts[Destination(address: originalDestination, port: port)],
            !serving.contains(replySource)
        {
            return true
        }
        if let serving = nodePorts[port], !serving.contains(replySource) { return true }
        return false
    }
}
