/// The node kproxy runs on: its zone label, addresses and pod CIDRs feed topology, NodePorts and masquerade.
public struct Node: Decodable, Hashable, Sendable {
    public var metadata: ObjectMeta
    public var podCIDRs: [CIDR]
    public var addresses: [NodeAddress]

    public static let zoneLabel = "topology.kubernetes.io/zone"

    public init(metadata: ObjectMeta, podCIDRs: [CIDR] = [], addresses: [NodeAddress] = []) {
        self.metadata = metadata
        self.podCIDRs = podCIDRs
        self.addresses = addresses
    }

    public var zone: String? { metadata.labels[Node.zoneLabel] }
    public var isDeleting: Bool { metadata.deletionTimestamp != nil }

    enum CodingKeys: String, CodingKey { case metadata, spec, status }
    enum SpecKeys: String, CodingKey { case podCIDR, podCIDRs }
    enum StatusKeys: String, CodingKey { case addresses }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        var cidrs: [CIDR] = []
        if c.contains(.spec) {
            let spec = try c.nestedContainer(keyedBy: SpecKeys.self, forKey: .spec)
            cidrs = try spec.decodeIfPresent([CIDR].self, forKey: .podCIDRs) ?? []
            if cidrs.isEmpty, let single = try spec.decodeIfPresent(CIDR.self, forKey: .podCIDR) {
                cidrs = [single]
            }
        }
        podCIDRs = cidrs
        if c.contains(.status) {
            let status = try c.nestedContainer(keyedBy: StatusKeys.self, forKey: .status)
            addresses = try status.decodeIfPresent([NodeAddress].self, forKey: .addresses) ?? []
        } else {
            addresses = []
        }
    }

    /// The node's own IPs (InternalIP and ExternalIP), which NodePorts and hairpin rules need.
    public var ips: [IPAddress] {
        addresses.compactMap { $0.type == "InternalIP" || $0.type == "ExternalIP" ? IPAddress($0.address) : nil }
    }
}

public struct NodeAddress: Decodable, Hashable, Sendable {
    /// InternalIP, ExternalIP, Hostname, InternalDNS or ExternalDNS; kept as text since only IP kinds matter.
    public var type: String
    public var address: String

    public init(type: String, address: String) {
        self.type = type
        self.address = address
    }
}

/// A pod, reduced to what server-side DNS search needs: which namespace a source IP belongs to.
public struct Pod: Decodable, Hashable, Sendable {
    public var metadata: ObjectMeta
    public var nodeName: String?
    public var podIPs: [IPAddress]
    /// A host-network pod carries the node's own IPs, so its IP says nothing about who is asking.
    public var hostNetwork: Bool

    public init(metadata: ObjectMeta, nodeName: String? = nil, podIPs: [IPAddress] = [], hostNetwork: Bool = false) {
        self.metadata = metadata
        self.nodeName = nodeName
        self.podIPs = podIPs
        self.hostNetwork = hostNetwork
    }

    enum CodingKeys: String, CodingKey { case metadata, spec, status }
    enum SpecKeys: String, CodingKey { case nodeName, hostNetwork }
    enum StatusKeys: String, CodingKey { case podIP, podIPs }
    struct PodIP: Decodable { var ip: IPAddress }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        hostNetwork = false
        if c.contains(.spec) {
            let spec = try c.nestedContainer(keyedBy: SpecKeys.self, forKey: .spec)
            nodeName = try spec.decodeIfPresent(String.self, forKey: .nodeName)
            hostNetwork = try spec.decodeIfPresent(Bool.self, forKey: .hostNetwork) ?? false
        }
        var ips: [IPAddress] = []
        if c.contains(.status) {
            let status = try c.nestedContainer(keyedBy: StatusKeys.self, forKey: .status)
            ips = try status.decodeIfPresent([PodIP].self, forKey: .podIPs)?.map(\.ip) ?? []
            if ips.isEmpty, let single = try status.decodeIfPresent(IPAddress.self, forKey: .podIP) {
                ips = [single]
            }
        }
        podIPs = ips
    }
}
