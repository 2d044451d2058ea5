import KubeModel

/// Identifies a Service: `namespace/name`.
public struct ServiceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(namespace)/\(name)" }

    public static func < (lhs: ServiceKey, rhs: ServiceKey) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
    }
}

/// Identifies one port of one Service: `namespace/name/portName/protocol`, the unit kube-proxy syncs.
public struct ServicePortName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var service: ServiceKey
    /// The Service port's name; empty for the single unnamed port.
    public var port: String
    public var `protocol`: TransportProtocol

    public init(service: ServiceKey, port: String, protocol: TransportProtocol) {
        self.service = service
        self.port = port
        self.protocol = `protocol`
    }

    public init(namespace: String, name: String, port: String, protocol: TransportProtocol) {
        self.init(service: ServiceKey(namespace: namespace, name: name), port: port, protocol: `protocol`)
    }

    /// `ns/name/tcp/port`, the form kube-proxy puts into chain names.
    public var description: String { "\(service)/\(`protocol`.nftName)/\(port)" }

    public static func < (lhs: ServicePortName, rhs: ServicePortName) -> Bool {
        (lhs.service, lhs.port, lhs.protocol) < (rhs.service, rhs.port, rhs.protocol)
    }
}

/// Identifies a namespaced or cluster-scoped object other than a Service.
public struct ObjectKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }

    public static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
    }
}
