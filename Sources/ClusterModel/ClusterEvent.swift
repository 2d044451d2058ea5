import KubeModel

/// The kinds of object the model tracks.
public enum ResourceKind: String, Hashable, Sendable, CaseIterable {
    case service = "Service"
    case endpointSlice = "EndpointSlice"
    case node = "Node"
    case pod = "Pod"
}

/// An object the model tracks.
public enum ClusterObject: Hashable, Sendable {
    case service(Service)
    case endpointSlice(EndpointSlice)
    case node(Node)
    case pod(Pod)

    public var kind: ResourceKind {
        switch self {
        case .service: return .service
        case .endpointSlice: return .endpointSlice
        case .node: return .node
        case .pod: return .pod
        }
    }

    public var metadata: ObjectMeta {
        switch self {
        case .service(let object): return object.metadata
        case .endpointSlice(let object): return object.metadata
        case .node(let object): return object.metadata
        case .pod(let object): return object.metadata
        }
    }

    public var key: ObjectKey { ObjectKey(namespace: metadata.namespace, name: metadata.name) }
}

/// A change to apply to the model, as a watch or a manifest reload produces it.
public enum ClusterEvent: Hashable, Sendable {
    case upsert(ClusterObject)
    case delete(ResourceKind, ObjectKey)
    /// A re-list: every object of this kind is now exactly this list; anything missing was deleted.
    case replaceAll(ResourceKind, [ClusterObject])
}

/// What a batch of events changed; the sync loop and the DNS index update incrementally from it.
public struct ChangeSet: Hashable, Sendable {
    public var servicePorts: Set<ServicePortName> = []
    public var services: Set<ServiceKey> = []
    public var nodeChanged = false
    public var podsChanged = false

    public init() {}

    public var isEmpty: Bool { servicePorts.isEmpty && services.isEmpty && !nodeChanged && !podsChanged }

    public mutating func formUnion(_ other: ChangeSet) {
        servicePorts.formUnion(other.servicePorts)
        services.formUnion(other.services)
        nodeChanged = nodeChanged || other.nodeChanged
        podsChanged = podsChanged || other.podsChanged
    }
}
