import HashTreeCollections
import KubeModel

/// The live cluster model: applies events, keeps an O(1) ``ClusterSnapshot``, and records what changed.
///
/// Applying one event costs time proportional to the object (and, for an EndpointSlice, to its Service's
/// other slices), never to the size of the cluster.
public struct ClusterState: Sendable {
    public private(set) var snapshot: ClusterSnapshot
    /// Changes since the last ``takeChanges()``.
    public private(set) var pendingChanges = ChangeSet()

    /// Slices by `namespace/name`, only those labelled with their Service's name.
    var slices: TreeDictionary<ObjectKey, EndpointSlice> = [:]
    var sliceNamesByService: TreeDictionary<ServiceKey, Set<String>> = [:]
    /// Port names each Service currently contributes to `snapshot.servicePorts`.
    var portNamesByService: TreeDictionary<ServiceKey, [ServicePortName]> = [:]
    /// Port names each Service's slices currently contribute to `snapshot.endpoints`.
    var endpointPortNamesByService: TreeDictionary<ServiceKey, Set<ServicePortName>> = [:]
    /// Address-level endpoints per Service (for DNS), kept even before the Service itself arrives.
    var addressesByService: TreeDictionary<ServiceKey, ServiceAddresses> = [:]

    /// The label that hands a Service to another proxy implementation.
    public static let serviceProxyNameLabel = "service.kubernetes.io/service-proxy-name"
    /// The label the endpoints controller puts on headless Services' slices.
    public static let headlessLabel = "service.kubernetes.io/headless"

    public init(nodeName: String) {
        snapshot = ClusterSnapshot(nodeName: nodeName)
    }

    /// Returns the changes accumulated since the last call and starts a new batch.
    public mutating func takeChanges() -> ChangeSet {
        defer { pendingChanges = ChangeSet() }
        return pendingChanges
    }

    public mutating func apply(_ events: some Sequence<ClusterEvent>) {
        for event in events { apply(event) }
    }

    public mutating func apply(_ event: ClusterEvent) {
        switch event {
        case .upsert(let object):
            upsert(object)
        case .delete(let kind, let key):
            delete(kind, key)
        case .replaceAll(let kind, let objects):
            let keep = Set(objects.map(\.key))
            for key in keys(of: kind) where !keep.contains(key) { delete(kind, key) }
            for object in objects where object.kind == kind { upsert(object) }
        }
    }

    func keys(of kind: ResourceKind) -> [ObjectKey] {
        switch kind {
        case .service: return snapshot.services.keys.map { ObjectKey(namespace: $0.namespace, name: $0.name) }
        case .endpointSlice: return Array(slices.keys)
        case .node: return snapshot.nodes.keys.map { ObjectKey(namespace: "", name: $0) }
        case .pod: return Array(snapshot.pods.keys)
        }
    }

    mutating func upsert(_ object: ClusterObject) {
        switch object {
        case .service(let service): upsertService(service)
        case .endpointSlice(let slice): upsertSlice(slice)
        case .node(let node): upsertNode(node)
        case .pod(let pod): upsertPod(pod)
        }
    }

    mutating func delete(_ kind: ResourceKind, _ key: ObjectKey) {
        switch kind {
        case .service: deleteService(ServiceKey(namespace: key.namespace, name: key.name))
        case .endpointSlice: deleteSlice(key)
        case .node:
            if snapshot.nodes.removeValue(forKey: key.name) != nil, key.name == snapshot.nodeName {
                pendingChanges.nodeChanged = true
            }
        case .pod: deletePod(key)
        }
    }

    // MARK: Services

    mutating func upsertService(_ service: Service) {
        let key = ServiceKey(namespace: service.metadata.namespace, name: service.metadata.name)
        let labels = service.metadata.labels
        let proxied = labels[ClusterState.serviceProxyNameLabel] == nil
        var spec = service.spec
        if labels[ClusterState.headlessLabel] != nil { spec.isHeadless = true }
        let addresses = addressesByService[key] ?? ServiceAddresses()
        let entry = ServiceEntry(
            key: key, spec: spec, labels: labels, proxied: proxied,
            endpoints: addresses.endpoints, endpointPorts: addresses.ports)
        if snapshot.services[key] != entry {
            snapshot.services[key] = entry
            pendingChanges.services.insert(key)
        }
        var effective = service
        effective.spec = spec
        setPorts(ServicePortInfo.ports(of: effective, proxied: proxied), for: key)
    }

    mutating func deleteService(_ key: ServiceKey) {
        guard snapshot.services.removeValue(forKey: key) != nil else { return }
        pendingChanges.services.insert(key)
        setPorts([], for: key)
    }

    mutating func setPorts(_ ports: [ServicePortInfo], for key: ServiceKey) {
        let newNames = ports.map(\.name)
        for name in portNamesByService[key] ?? [] where !newNames.contains(name) {
            snapshot.servicePorts.removeValue(forKey: name)
            pendingChanges.servicePorts.insert(name)
        }
        for port in ports where snapshot.servicePorts[port.name] != port {
            snapshot.servicePorts[port.name] = port
            pendingChanges.servicePorts.insert(port.name)
        }
        portNamesByService[key] = newNames.isEmpty ? nil : newNames
    }

    // MARK: EndpointSlices

    mutating func upsertSlice(_ slice: EndpointSlice) {
        let key = ObjectKey(namespace: slice.metadata.namespace, name: slice.metadata.name)
        guard let serviceName = slice.serviceName, !serviceName.isEmpty else {
            // A slice that lost its label no longer belongs to any Service.
            deleteSlice(key)
            return
        }
        let service = ServiceKey(namespace: key.namespace, name: serviceName)
        if let old = slices[key] {
            if old == slice { return }
            if let oldService = old.serviceName, oldService != serviceName {
                deleteSlice(key)
            }
        }
        slices[key] = slice
        sliceNamesByService[service, default: []].insert(key.name)
        recomputeEndpoints(of: service)
    }

    mutating func deleteSlice(_ key: ObjectKey) {
        guard let old = slices.removeValue(forKey: key), let serviceName = old.serviceName else { return }
        let service = ServiceKey(namespace: key.namespace, name: serviceName)
        sliceNamesByService[service]?.remove(key.name)
        if sliceNamesByService[service]?.isEmpty == true { sliceNamesByService.removeValue(forKey: service) }
        recomputeEndpoints(of: service)
    }

    mutating func recomputeEndpoints(of service: ServiceKey) {
        let names = (sliceNamesByService[service] ?? []).sorted()
        let serviceSlices = names.compactMap { slices[ObjectKey(namespace: service.namespace, name: $0)] }
        let merged = EndpointMerger.merge(serviceSlices, service: service)

        let oldNames = endpointPortNamesByService[service] ?? []
        for name in oldNames where merged.byPort[name] == nil {
            snapshot.endpoints.removeValue(forKey: name)
            pendingChanges.servicePorts.insert(name)
        }
        for (name, endpoints) in merged.byPort where snapshot.endpoints[name] != endpoints {
            snapshot.endpoints[name] = endpoints
            pendingChanges.servicePorts.insert(name)
        }
        let newNames = Set(merged.byPort.keys)
        endpointPortNamesByService[service] = newNames.isEmpty ? nil : newNames

        let addresses = merged.addresses
        addressesByService[service] = addresses.endpoints.isEmpty && addresses.ports.isEmpty ? nil : addresses
        if var entry = snapshot.services[service],
            entry.endpoints != addresses.endpoints || entry.endpointPorts != addresses.ports
        {
            entry.endpoints = addresses.endpoints
            entry.endpointPorts = addresses.ports
            snapshot.services[service] = entry
            pendingChanges.services.insert(service)
        }
    }

    // MARK: Nodes and pods

    mutating func upsertNode(_ node: Node) {
        guard snapshot.nodes[node.metadata.name] != node else { return }
        snapshot.nodes[node.metadata.name] = node
        if node.metadata.name == snapshot.nodeName { pendingChanges.nodeChanged = true }
    }

    mutating func upsertPod(_ pod: Pod) {
        let key = ObjectKey(namespace: pod.metadata.namespace, name: pod.metadata.name)
        guard snapshot.pods[key] != pod else { return }
        deletePod(key)
        snapshot.pods[key] = pod
        if !pod.hostNetwork {
            for ip in pod.podIPs { snapshot.podsByIP[ip] = key }
        }
        pendingChanges.podsChanged = true
    }

    mutating func deletePod(_ key: ObjectKey) {
        guard let old = snapshot.pods.removeValue(forKey: key) else { return }
        for ip in old.podIPs where snapshot.podsByIP[ip] == key { snapshot.podsByIP.removeValue(forKey: ip) }
        pendingChanges.podsChanged = true
    }
}

/// Address-level endpoints of one Service, for DNS.
struct ServiceAddresses: Hashable, Sendable {
    var endpoints: [ServiceEndpoint] = []
    var ports: [EndpointSlice.EndpointPort] = []
}
