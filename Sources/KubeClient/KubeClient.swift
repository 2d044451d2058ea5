import ClusterModel
import Foundation
import Logging
import NIOCore
import Synchronization

/// kproxy's connection to the Kubernetes API: discovery, the reflectors that keep the model current, and
/// the Events recorder.
///
/// ```swift
/// let client = try KubeClient(config: .kubeconfig(path: path), logger: logger)
/// for await update in client.clusterUpdates(ClusterWatch(nodeName: "node-a")) {
///     switch update {
///     case .events(let batch): state.apply(batch)
///     case .synced: ...           // every reflector has listed once: safe to program rules
///     case .problem(let error, _): ...
///     case .skipped(let object): ...  // e.g. EventRecorder.recordSkipped(object)
///     }
/// }
/// await client.shutdown()
/// ```
public final class KubeClient: Sendable {
    public let config: ConnectionConfig
    let connection: APIConnection
    let logger: Logger

    /// - Parameters:
    ///   - tokenRefresh: how often a token file is re-read even without a 401 (client-go: about a minute).
    public init(
        config: ConnectionConfig, transport: TransportOptions = TransportOptions(),
        tokenRefresh: Duration = .seconds(60), logger: Logger
    ) throws(ConfigError) {
        self.config = config
        self.logger = logger
        connection = try APIConnection(config: config, options: transport, tokenRefresh: tokenRefresh)
    }

    /// Must be called before the client is released; ends every open request.
    public func shutdown() async {
        await connection.shutdown()
    }

    /// The EndpointSlice version to watch: `v1` if the server serves it, else `v1beta1` (Kubernetes
    /// before 1.21). Asked once at start-up from `/apis/discovery.k8s.io`.
    public func endpointSliceVersion() async throws(KubeClientError) -> String {
        struct APIGroup: Decodable {
            struct Version: Decodable { var version: String }
            var versions: [Version]
        }
        let path = "/apis/discovery.k8s.io"
        let response = try await connection.send(.GET, path: path)
        let data = try await connection.collect(response, path: path)
        guard let group = try? JSONDecoder().decode(APIGroup.self, from: data) else {
            throw .malformedResponse(path: path, detail: "not an APIGroup")
        }
        let versions = group.versions.map(\.version)
        if versions.contains("v1") { return "v1" }
        if versions.contains("v1beta1") { return "v1beta1" }
        throw .malformedResponse(path: path, detail: "serves neither v1 nor v1beta1 (has \(versions))")
    }

    /// Lists and watches the resources `watch` selects and streams model events.
    ///
    /// Discovery runs first (retried with backoff, errors reported as ``ClusterUpdate/problem(_:resource:)``);
    /// then one reflector per resource. ``ClusterUpdate/synced`` comes once, after the batch that completes
    /// the first list of the last resource. Ending the iteration (or cancelling its task) stops everything.
    public func clusterUpdates(_ watch: ClusterWatch) -> AsyncStream<ClusterUpdate> {
        let (stream, continuation) = AsyncStream.makeStream(of: ClusterUpdate.self)
        let task = Task { [self] in
            guard let version = await discoverWithRetry(watch, continuation) else { return }
            logger.info("Watching the cluster", metadata: ["endpointSlices": "discovery.k8s.io/\(version)"])
            var resources: [WatchedResource] = [
                .services(labelSelector: watch.serviceLabelSelector),
                .endpointSlices(version: version, labelSelector: watch.endpointSliceLabelSelector),
                .node(named: watch.nodeName),
            ]
            if watch.includePods { resources.append(.pods(onNode: watch.nodeName)) }
            let sink = UpdateSink(continuation: continuation, kinds: Set(resources.map(\.kind)))
            await withTaskGroup(of: Void.self) { group in
                for resource in resources {
                    let reflector = Reflector(
                        resource: resource, connection: connection, options: watch.reflector, logger: logger)
                    group.addTask { await reflector.run(into: sink) }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    func discoverWithRetry(
        _ watch: ClusterWatch, _ continuation: AsyncStream<ClusterUpdate>.Continuation
    ) async -> String? {
        if let version = watch.endpointSliceVersion { return version }
        var attempt = 0
        while !Task.isCancelled {
            do {
                return try await endpointSliceVersion()
            } catch {
                if Task.isCancelled { return nil }
                attempt += 1
                logger.warning("API discovery failed; retrying", metadata: ["error": "\(error)"])
                continuation.yield(.problem(error, resource: nil))
                let delay = watch.reflector.backoff.delay(attempt: attempt, random: Double.random(in: 0..<1))
                do { try await Task.sleep(for: delay) } catch { return nil }
            }
        }
        return nil
    }
}

/// What to watch.
public struct ClusterWatch: Sendable, Hashable {
    /// The node kproxy runs on: its Node object and (optionally) its Pods are watched.
    public var nodeName: String
    /// Pods on this node, for DNS server-side search (needs the extra RBAC rule in deploy/).
    public var includePods: Bool
    /// kube-proxy watches `!service.kubernetes.io/service-proxy-name` only; kproxy's DNS also answers for
    /// Services another proxy handles, so the default is every Service (the model marks them not proxied).
    public var serviceLabelSelector: String?
    public var endpointSliceLabelSelector: String?
    /// Skip discovery and use this EndpointSlice version.
    public var endpointSliceVersion: String?
    public var reflector: ReflectorOptions

    /// Only the Services (and slices) kube-proxy itself would handle.
    public static let proxiedOnlySelector = "!service.kubernetes.io/service-proxy-name"

    public init(
        nodeName: String, includePods: Bool = false, serviceLabelSelector: String? = nil,
        endpointSliceLabelSelector: String? = nil, endpointSliceVersion: String? = nil,
        reflector: ReflectorOptions = ReflectorOptions()
    ) {
        self.nodeName = nodeName
        self.includePods = includePods
        self.serviceLabelSelector = serviceLabelSelector
        self.endpointSliceLabelSelector = endpointSliceLabelSelector
        self.endpointSliceVersion = endpointSliceVersion
        self.reflector = reflector
    }
}

/// One item of ``KubeClient/clusterUpdates(_:)``.
public enum ClusterUpdate: Sendable {
    /// Apply these to the ``ClusterState`` in order.
    case events([ClusterEvent])
    /// Every reflector has listed once: the model is complete and may be programmed. Sent once.
    case synced
    /// A failure being retried (resource nil for discovery). The model keeps its last state meanwhile.
    case problem(KubeClientError, resource: ResourceKind?)
    /// An object kproxy cannot read was left out of the model (and removed if an earlier version was in it);
    /// the other objects of its kind keep syncing. Reported each time the object is listed or changes.
    case skipped(SkippedObject)
}

/// Serialises reflector output into the stream and decides when the model is synced.
final class UpdateSink: ReflectorSink {
    struct State {
        var pending: Set<ResourceKind>
        var synced = false
    }
    let continuation: AsyncStream<ClusterUpdate>.Continuation
    let state: Mutex<State>

    init(continuation: AsyncStream<ClusterUpdate>.Continuation, kinds: Set<ResourceKind>) {
        self.continuation = continuation
        state = Mutex(State(pending: kinds))
    }

    func deliver(_ events: [ClusterEvent], listed: ResourceKind?) {
        state.withLock { state in
            continuation.yield(.events(events))
            if let listed { state.pending.remove(listed) }
            if !state.synced, state.pending.isEmpty {
                state.synced = true
                continuation.yield(.synced)
            }
        }
    }

    func report(_ error: KubeClientError, resource: ResourceKind) {
        continuation.yield(.problem(error, resource: resource))
    }

    func skipped(_ objects: [SkippedObject]) {
        for object in objects { continuation.yield(.skipped(object)) }
    }
}
