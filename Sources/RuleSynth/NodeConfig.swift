import KubeModel

/// What rule synthesis needs to know about this node and kproxy's settings.
public struct NodeConfig: Hashable, Sendable {
    public var nodeName: String
    /// The node's primary IP of each family (kube-proxy's "primary" node IPs).
    public var nodeIPs: [IPAddress]
    /// Which node IPs accept NodePort traffic, with kube-proxy's nftables semantics: empty means the primary
    /// node IPs (`nodeIPs`, upstream's default `primary`); otherwise the node IPs inside any of these CIDRs.
    /// A `/0` of a family matches every local address of that family (`fib daddr type local`), except
    /// loopback, like upstream's "all". kproxy cannot list interfaces (synthesis is pure), so other local
    /// addresses count only when they are in `nodeIPs`.
    public var nodePortAddresses: [CIDR]
    /// Sources treated as "inside the cluster" (pod traffic): the cluster CIDRs, or the node's pod CIDRs
    /// under `detectLocalMode: NodeCIDR`. Empty disables the pod short-circuit and off-cluster masquerade,
    /// as upstream does without a local detector.
    public var clusterCIDRs: [CIDR]
    /// The bit of `meta mark` that asks for masquerade: 14 gives kube-proxy's 0x4000.
    public var masqueradeBit: Int
    public var masqueradeAll: Bool
    /// The node's `topology.kubernetes.io/zone` label, for topology hints.
    public var zone: String?

    public init(
        nodeName: String, nodeIPs: [IPAddress] = [], nodePortAddresses: [CIDR] = [], clusterCIDRs: [CIDR] = [],
        masqueradeBit: Int = 14, masqueradeAll: Bool = false, zone: String? = nil
    ) {
        self.nodeName = nodeName
        self.nodeIPs = nodeIPs
        self.nodePortAddresses = nodePortAddresses
        self.clusterCIDRs = clusterCIDRs
        self.masqueradeBit = masqueradeBit
        self.masqueradeAll = masqueradeAll
        self.zone = zone
    }

    /// `1 << masqueradeBit`; an out-of-range bit (config is validated elsewhere) falls back to 0x4000
    /// rather than trapping.
    public var masqueradeMark: UInt32 {
        (0...31).contains(masqueradeBit) ? UInt32(1) << UInt32(masqueradeBit) : 0x4000
    }

    /// Whether NodePorts listen on every local address of the family.
    func nodePortsOnAllAddresses(_ family: TableFamily) -> Bool {
        nodePortAddresses.contains { $0.family == family.ipFamily && $0.prefixLength == 0 }
    }

    /// The node IPs of `family` that accept NodePorts, without loopback (kube-proxy skips it with an error).
    func nodePortIPs(_ family: TableFamily) -> [IPAddress] {
        let candidates = nodeIPs.filter { $0.family == family.ipFamily && !$0.isLoopback }
        let selected =
            nodePortAddresses.isEmpty
            ? candidates : candidates.filter { ip in nodePortAddresses.contains { $0.contains(ip) } }
        return Array(Set(selected)).sorted()
    }

    func clusterCIDRs(_ family: TableFamily) -> [CIDR] {
        Array(Set(clusterCIDRs.filter { $0.family == family.ipFamily })).sorted()
    }
}

extension IPAddress {
    var isLoopback: Bool {
        switch self {
        case .v4(let value): return value >> 24 == 127
        case .v6(let high, let low): return high == 0 && low == 1
        }
    }
}
