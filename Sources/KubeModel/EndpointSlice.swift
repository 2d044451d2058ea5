/// A discovery.k8s.io EndpointSlice, v1 and v1beta1 normalised to one shape.
///
/// v1beta1 keeps the node and zone in `topology` (`kubernetes.io/hostname`,
/// `topology.kubernetes.io/zone`); v1 has `nodeName` and `zone`. Both decode into the v1 fields.
public struct EndpointSlice: Decodable, Hashable, Sendable {
    public var metadata: ObjectMeta
    public var addressType: AddressType
    public var endpoints: [Endpoint]
    public var ports: [EndpointPort]

    public enum AddressType: String, Decodable, Hashable, Sendable, CaseIterable {
        case ipv4 = "IPv4"
        case ipv6 = "IPv6"
        case fqdn = "FQDN"
    }

    /// The label that ties a slice to its Service; slices without it are not kproxy's business.
    public static let serviceNameLabel = "kubernetes.io/service-name"

    public init(metadata: ObjectMeta, addressType: AddressType, endpoints: [Endpoint], ports: [EndpointPort]) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }

    enum CodingKeys: String, CodingKey { case metadata, addressType, endpoints, ports }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        guard let type = try c.decodeChoice(AddressType.self, forKey: .addressType) else {
            throw DecodingError.keyNotFound(
                CodingKeys.addressType,
                .init(codingPath: c.codingPath, debugDescription: "addressType is required"))
        }
        addressType = type
        endpoints = try c.decodeIfPresent([Endpoint].self, forKey: .endpoints) ?? []
        ports = try c.decodeIfPresent([EndpointPort].self, forKey: .ports) ?? []
    }

    public var serviceName: String? { metadata.labels[EndpointSlice.serviceNameLabel] }

    public struct Endpoint: Decodable, Hashable, Sendable {
        /// Addresses as text: FQDN slices carry names, IP slices carry addresses.
        public var addresses: [String]
        /// The API says a missing `ready` means ready and a missing `serving` means serving.
        public var ready: Bool
        public var serving: Bool
        public var terminating: Bool
        public var hostname: String?
        public var nodeName: String?
        public var zone: String?
        public var targetRef: ObjectReference?
        public var zoneHints: [String]
        public var nodeHints: [String]

        public init(
            addresses: [String], ready: Bool = true, serving: Bool? = nil, terminating: Bool = false,
            hostname: String? = nil, nodeName: String? = nil, zone: String? = nil, targetRef: ObjectReference? = nil,
            zoneHints: [String] = [], nodeHints: [String] = []
        ) {
            self.addresses = addresses
            self.ready = ready
            self.serving = serving ?? ready
            self.terminating = terminating
            self.hostname = hostname
            self.nodeName = nodeName
            self.zone = zone
            self.targetRef = targetRef
            self.zoneHints = zoneHints
            self.nodeHints = nodeHints
        }

        enum CodingKeys: String, CodingKey {
            case addresses, conditions, hostname, nodeName, zone, topology, targetRef, hints
        }
        enum ConditionKeys: String, CodingKey { case ready, serving, terminating }
        enum HintKeys: String, CodingKey { case forZones, forNodes }
        struct NamedHint: Decodable { var name: String }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            addresses = try c.decode([String].self, forKey: .addresses)
            if c.contains(.conditions) {
                let conditions = try c.nestedContainer(keyedBy: ConditionKeys.self, forKey: .conditions)
                ready = try conditions.decodeIfPresent(Bool.self, forKey: .ready) ?? true
                serving = try conditions.decodeIfPresent(Bool.self, forKey: .serving) ?? ready
                terminating = try conditions.decodeIfPresent(Bool.self, forKey: .terminating) ?? false
            } else {
                ready = true
                serving = true
                terminating = false
            }
            hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
            let topology = try c.decodeIfPresent([String: String].self, forKey: .topology) ?? [:]
            nodeName = try c.decodeIfPresent(String.self, forKey: .nodeName) ?? topology["kubernetes.io/hostname"]
            zone = try c.decodeIfPresent(String.self, forKey: .zone) ?? topology["topology.kubernetes.io/zone"]
            targetRef = try c.decodeIfPresent(ObjectReference.self, forKey: .targetRef)
            if c.contains(.hints) {
                let hints = try c.nestedContainer(keyedBy: HintKeys.self, forKey: .hints)
                zoneHints = try hints.decodeIfPresent([NamedHint].self, forKey: .forZones)?.map(\.name) ?? []
                nodeHints = try hints.decodeIfPresent([NamedHint].self, forKey: .forNodes)?.map(\.name) ?? []
            } else {
                zoneHints = []
                nodeHints = []
            }
        }
    }

    public struct EndpointPort: Decodable, Hashable, Sendable {
        public var name: String
        public var `protocol`: TransportProtocol
        /// Nil means "all ports" in the API; kube-proxy ignores such ports, and so does kproxy.
        public var port: PortNumber?

        public init(name: String = "", protocol: TransportProtocol = .tcp, port: PortNumber?) {
            self.name = name
            self.protocol = `protocol`
            self.port = port
        }

        enum CodingKeys: String, CodingKey { case name, `protocol`, port }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
            `protocol` = try c.decodeChoice(TransportProtocol.self, forKey: .protocol) ?? .tcp
            port = try c.decodeIfPresent(PortNumber.self, forKey: .port)
        }
    }
}

public struct ObjectReference: Decodable, Hashable, Sendable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?

    public init(kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
    }
}
