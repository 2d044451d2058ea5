import KubeModel

/// One backend of a Service port (or, with `port == 0`, of a headless Service for DNS).
public struct ServiceEndpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    /// The target port resolved from the slice's port of the same name; 0 when the slice lists none.
    public var port: UInt16
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool
    public var nodeName: String?
    public var zone: String?
    public var hostname: String?
    public var zoneHints: [String]
    public var nodeHints: [String]
    /// `namespace/name` of the pod behind it, for logs and `inspect`.
    public var targetRef: String?

    public init(
        address: IPAddress, port: UInt16, ready: Bool = true, serving: Bool? = nil, terminating: Bool = false,
        nodeName: String? = nil, zone: String? = nil, hostname: String? = nil, zoneHints: [String] = [],
        nodeHints: [String] = [], targetRef: String? = nil
    ) {
        self.address = address
        self.port = port
        self.ready = ready
        self.serving = serving ?? ready
        self.terminating = terminating
        self.nodeName = nodeName
        self.zone = zone
        self.hostname = hostname
        self.zoneHints = zoneHints
        self.nodeHints = nodeHints
        self.targetRef = targetRef
    }

    /// `ip:port`, bracketed for IPv6, as kube-proxy prints endpoints.
    public var description: String {
        address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    public static func < (lhs: ServiceEndpoint, rhs: ServiceEndpoint) -> Bool {
        (lhs.address, lhs.port) < (rhs.address, rhs.port)
    }

    public func isLocal(to nodeName: String) -> Bool { self.nodeName == nodeName }
}
