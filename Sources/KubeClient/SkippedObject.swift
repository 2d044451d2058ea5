import ClusterModel
import KubeModel

/// An object the API server holds but kproxy cannot read (e.g. `spec.ports[2].port: 70000 is not a valid
/// port`). It is left out of the model, the rest of its list or watch goes on, and the consumer is told so it
/// can post an Event: the object's owner looks at `kubectl describe`, not at kproxy's log.
public struct SkippedObject: Sendable, Hashable, CustomStringConvertible {
    public var kind: ResourceKind
    /// As the reflector requested it, e.g. `v1` or `discovery.k8s.io/v1beta1`.
    public var apiVersion: String
    /// Read from the raw JSON's metadata; nil when even the name is unreadable (then no Event can name it).
    public var key: ObjectKey?
    public var uid: String?
    public var problem: ObjectDecodingError

    public init(
        kind: ResourceKind, apiVersion: String, key: ObjectKey?, uid: String? = nil, problem: ObjectDecodingError
    ) {
        self.kind = kind
        self.apiVersion = apiVersion
        self.key = key
        self.uid = uid
        self.problem = problem
    }

    /// The object an Event about it names; nil for an object without a readable name.
    public var subject: EventSubject? {
        guard let key else { return nil }
        return EventSubject(
            kind: kind.rawValue, apiVersion: apiVersion, namespace: key.namespace, name: key.name, uid: uid)
    }

    /// What is wrong, without the object's name (an Event already names its object).
    public var detail: String {
        [problem.path.isEmpty ? nil : problem.path, problem.message].compactMap { $0 }.joined(separator: ": ")
    }

    public var description: String { "\(kind.rawValue) \(problem)" }
}

extension EventRecorder {
    /// The Event reason for an object kproxy skips; `kubectl get events --field-selector reason=InvalidObject`.
    public static let invalidObjectReason = "InvalidObject"

    /// Posts a Warning Event on `object` saying kproxy ignores it and why. Returns false for an object
    /// without a readable name, or when the rate limiter or the API server holds the Event back.
    @discardableResult
    public func recordSkipped(_ object: SkippedObject) async -> Bool {
        guard let subject = object.subject else { return false }
        return await record(
            .warning, reason: EventRecorder.invalidObjectReason,
            message: "kproxy ignores this \(object.kind.rawValue) until it is fixed: \(object.detail)",
            about: subject)
    }
}
