import ClusterModel
import Foundation
import KubeModel
import NIOCore

/// One resource a reflector lists and watches: its URL, selectors, and how its JSON becomes model objects.
public struct WatchedResource: Sendable {
    public let kind: ResourceKind
    /// `v1`, or `discovery.k8s.io/<version>` for EndpointSlices: what an Event about one of its objects names.
    public let apiVersion: String
    /// Collection path, e.g. `/api/v1/services` or `/apis/discovery.k8s.io/v1beta1/endpointslices`.
    public let path: String
    public let labelSelector: String?
    public let fieldSelector: String?
    let decodeList: @Sendable (Data) throws -> DecodedList
    let decodeEvent: @Sendable (Data) throws -> DecodedEvent

    public static func services(labelSelector: String? = nil) -> WatchedResource {
        make(.service, apiVersion: "v1", path: "/api/v1/services", labelSelector: labelSelector, fieldSelector: nil) {
            (service: Service) in .service(service)
        }
    }

    /// `version` is `v1` or `v1beta1`, as discovery decided.
    public static func endpointSlices(version: String, labelSelector: String? = nil) -> WatchedResource {
        make(
            .endpointSlice, apiVersion: "discovery.k8s.io/\(version)",
            path: "/apis/discovery.k8s.io/\(version)/endpointslices", labelSelector: labelSelector, fieldSelector: nil
        ) { (slice: EndpointSlice) in .endpointSlice(slice) }
    }

    /// Only this node's Node object (`metadata.name=<node>`).
    public static func node(named name: String) -> WatchedResource {
        make(
            .node, apiVersion: "v1", path: "/api/v1/nodes", labelSelector: nil,
            fieldSelector: "metadata.name=\(name)"
        ) { (node: Node) in .node(node) }
    }

    /// Pods scheduled to this node (`spec.nodeName=<node>`).
    public static func pods(onNode name: String) -> WatchedResource {
        make(.pod, apiVersion: "v1", path: "/api/v1/pods", labelSelector: nil, fieldSelector: "spec.nodeName=\(name)") {
            (pod: Pod) in .pod(pod)
        }
    }

    static func make<T: Decodable & Sendable>(
        _ kind: ResourceKind, apiVersion: String, path: String, labelSelector: String?, fieldSelector: String?,
        wrap: @escaping @Sendable (T) -> ClusterObject
    ) -> WatchedResource {
        let skipped: @Sendable (Lenient<T>, ObjectDecodingError) -> SkippedObject = { item, error in
            SkippedObject(kind: kind, apiVersion: apiVersion, key: item.key, uid: item.uid, problem: error)
        }
        return WatchedResource(
            kind: kind, apiVersion: apiVersion, path: path, labelSelector: labelSelector, fieldSelector: fieldSelector,
            decodeList: { data in
                let list = try JSONDecoder().decode(ObjectList<Lenient<T>>.self, from: data)
                var decoded = DecodedList(
                    resourceVersion: list.metadata.resourceVersion, continueToken: list.metadata.continue)
                for item in list.items {
                    switch item.result {
                    case .success(let object): decoded.objects.append(wrap(object))
                    case .failure(let error): decoded.skipped.append(skipped(item, error))
                    }
                }
                return decoded
            },
            decodeEvent: { data in
                switch try JSONDecoder().decode(WatchEvent<Lenient<T>>.self, from: data) {
                case .added(let item), .modified(let item):
                    switch item.result {
                    case .success(let object): return .upsert(wrap(object))
                    case .failure(let error):
                        return .invalid(skipped(item, error), resourceVersion: item.resourceVersion)
                    }
                case .deleted(let item):
                    switch item.result {
                    case .success(let object):
                        let object = wrap(object)
                        return .delete(object.key, resourceVersion: object.metadata.resourceVersion)
                    case .failure(let error):
                        guard let key = item.key else {
                            return .invalid(skipped(item, error), resourceVersion: item.resourceVersion)
                        }
                        return .delete(key, resourceVersion: item.resourceVersion)
                    }
                case .bookmark(let version): return .bookmark(resourceVersion: version)
                case .error(let status): return .error(status)
                }
            })
    }
}

/// A list response reduced to what the model needs, plus the items that could not be read.
struct DecodedList: Sendable {
    var resourceVersion: String?
    /// Set when the server has more pages of this list.
    var continueToken: String?
    var objects: [ClusterObject] = []
    var skipped: [SkippedObject] = []
}

/// One watch event reduced to what the model and the state machine need.
enum DecodedEvent: Sendable {
    case upsert(ClusterObject)
    case delete(ObjectKey, resourceVersion: String?)
    case bookmark(resourceVersion: String)
    case error(Status)
    /// The envelope was fine but the object is not a valid object of its kind; it is skipped.
    case invalid(SkippedObject, resourceVersion: String?)
}

/// Decodes an item without failing its whole list: one object kproxy cannot read must not hide the rest.
struct Lenient<T: Decodable & Sendable>: Decodable, Sendable {
    var result: Result<T, ObjectDecodingError>
    /// Read from a broken object's metadata, so a DELETED event can still remove it and the version advances.
    var key: ObjectKey?
    var uid: String?
    var resourceVersion: String?

    struct Metadata: Decodable {
        struct Meta: Decodable {
            var name: String?
            var namespace: String?
            var uid: String?
            var resourceVersion: String?
        }
        var metadata: Meta?
    }

    init(from decoder: any Decoder) throws {
        do {
            result = .success(try T(from: decoder))
        } catch {
            let meta = (try? Metadata(from: decoder))?.metadata
            if let name = meta?.name { key = ObjectKey(namespace: meta?.namespace ?? "", name: name) }
            uid = meta?.uid
            resourceVersion = meta?.resourceVersion
            result = .failure(ObjectDecodingError(error, object: key?.description, relativeTo: decoder.codingPath))
        }
    }
}
