import HashTreeCollections
import KubeModel

/// An immutable view of the cluster at one moment.
///
/// Backed by persistent hash tries, so taking a snapshot is O(1) and the next change copies only the
/// path it touches: the state can move on while rule synthesis and DNS read an older snapshot.
public struct ClusterSnapshot: Sendable {
    /// The node this proxy runs on; endpoints on it are "local".
    public let nodeName: String
    public internal(set) var services: TreeDictionary<ServiceKey, ServiceEntry>
    /// Every port of every non-headless, non-ExternalName Service, proxied or not.
    public internal(set) var servicePorts: TreeDictionary<ServicePortName, ServicePortInfo>
    /// Endpoints per Service port, merged across slices, deduplicated and sorted.
    public internal(set) var endpoints: TreeDictionary<ServicePortName, [ServiceEndpoint]>
    public internal(set) var nodes: TreeDictionary<String, Node>
    public internal(set) var pods: TreeDictionary<ObjectKey, Pod>
    /// Pod by IP, for DNS to learn a client's namespace from its source address.
    public internal(set) var podsByIP: TreeDictionary<IPAddress, ObjectKey>

    public init(nodeName: String) {
        self.nodeName = nodeName
        services = [:]
        servicePorts = [:]
        endpoints = [:]
        nodes = [:]
        pods = [:]
        podsByIP = [:]
    }

    public var localNode: Node? { nodes[nodeName] }

    public func endpoints(for port: ServicePortName) -> [ServiceEndpoint] { endpoints[port] ?? [] }

    /// Service ports in a stable order, for deterministic output.
    public var sortedServicePorts: [ServicePortInfo] {
        servicePorts.values.sorted { $0.name < $1.name }
    }
}

/// A Service as DNS sees it: its spec, and its endpoints merged across slices regardless of port.
public struct ServiceEntry: Hashable, Sendable {
    public var key: ServiceKey
    public var spec: ServiceSpec
    public var labels: [String: String]
    /// False when `service.kubernetes.io/service-proxy-name` hands the Service to another proxy; DNS still serves it.
    public var proxied: Bool
    /// One entry per address with `port == 0`: what headless A/AAAA and hostname records come from.
    public var endpoints: [ServiceEndpoint]
    /// Ports named by the slices, for headless SRV records.
    public var endpointPorts: [EndpointSlice.EndpointPort]

    public init(
        key: ServiceKey, spec: ServiceSpec, labels: [String: String] = [:], proxied: Bool = true,
        endpoints: [ServiceEndpoint] = [], endpointPorts: [EndpointSlice.EndpointPort] = []
    ) {
        self.key = key
        self.spec = spec
        self.labels = labels
        self.proxied = proxied
        self.endpoints = endpoints
        self.endpointPorts = endpointPorts
    }
}
