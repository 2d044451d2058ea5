import AsyncHTTPClient
import ClusterModel
import Foundation
import KubeModel
import Logging
import NIOCore

/// Where reflectors deliver what they learn. Called from several tasks; implementations serialise.
protocol ReflectorSink: Sendable {
    /// A batch of model events; `listed` is the resource's kind after its first successful list.
    func deliver(_ events: [ClusterEvent], listed: ResourceKind?)
    /// A failure that will be retried.
    func report(_ error: KubeClientError, resource: ResourceKind)
    /// Objects left out of the model because kproxy cannot read them; the rest of the list or watch went on.
    func skipped(_ objects: [SkippedObject])
}

/// Keeps one resource of the model current: carries out ``ReflectorStateMachine``'s actions over HTTP.
struct Reflector: Sendable {
    let resource: WatchedResource
    let connection: APIConnection
    let options: ReflectorOptions
    let logger: Logger

    func run(into sink: some ReflectorSink) async {
        defer { logger.debug("Reflector stopped", metadata: ["resource": "\(resource.path)"]) }
        var machine = ReflectorStateMachine()
        var action = machine.start()
        var logger = logger
        logger[metadataKey: "resource"] = "\(resource.path)"
        while !Task.isCancelled {
            switch action {
            case .list:
                do {
                    let list = try await self.list()
                    for object in list.skipped {
                        logger.error("Skipping an object kproxy cannot read", metadata: ["error": "\(object.problem)"])
                    }
                    let (next, first) = machine.listSucceeded(resourceVersion: list.resourceVersion)
                    logger.debug(
                        "Listed",
                        metadata: [
                            "objects": "\(list.objects.count)", "resourceVersion": "\(list.resourceVersion ?? "")",
                        ])
                    sink.deliver([.replaceAll(resource.kind, list.objects)], listed: first ? resource.kind : nil)
                    if !list.skipped.isEmpty { sink.skipped(list.skipped) }
                    if list.resourceVersion?.isEmpty ?? true {
                        report(.malformedResponse(path: resource.path, detail: "the list has no resourceVersion"), sink)
                    }
                    action = next
                } catch {
                    if Task.isCancelled { return }
                    report(error, sink)
                    action = machine.failed(expired: error.isExpired)
                }
            case .watch(let version):
                action = await watch(from: version, machine: &machine, sink: sink, logger: logger)
            case .backOff(let attempt):
                let delay = options.backoff.delay(attempt: attempt, random: Double.random(in: 0..<1))
                logger.debug("Backing off", metadata: ["attempt": "\(attempt)", "delay": "\(delay)"])
                do { try await Task.sleep(for: delay) } catch { return }
                action = machine.backoffElapsed()
            }
        }
    }

    func report(_ error: KubeClientError, _ sink: some ReflectorSink) {
        logger.warning("API request failed; retrying", metadata: ["resource": "\(resource.path)", "error": "\(error)"])
        sink.report(error, resource: resource.kind)
    }

    /// Lists in pages of ``ReflectorOptions/listPageSize`` (as client-go's pager does), so no response
    /// body is larger than one page. All pages come from one snapshot; an expired `continue` token is a 410,
    /// and the state machine then starts the list again.
    func list() async throws(KubeClientError) -> DecodedList {
        var result = DecodedList()
        var token: String?
        repeat {
            var query = selectors()
            if options.listPageSize > 0 { query.append(("limit", "\(options.listPageSize)")) }
            if let token { query.append(("continue", token)) }
            let response = try await connection.send(.GET, path: resource.path, query: query)
            let data = try await connection.collect(response, path: resource.path)
            let page: DecodedList
            do {
                page = try resource.decodeList(data)
            } catch {
                throw .malformedResponse(path: resource.path, detail: "\(ObjectDecodingError(error, object: nil))")
            }
            result.resourceVersion = page.resourceVersion ?? result.resourceVersion
            result.objects += page.objects
            result.skipped += page.skipped
            token = page.continueToken.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil && !Task.isCancelled
        return result
    }

    func selectors() -> [(String, String)] {
        var query: [(String, String)] = []
        if let label = resource.labelSelector { query.append(("labelSelector", label)) }
        if let field = resource.fieldSelector { query.append(("fieldSelector", field)) }
        return query
    }

    /// One watch request, read event by event until it ends; returns the next action.
    func watch(
        from version: String, machine: inout ReflectorStateMachine, sink: some ReflectorSink, logger: Logger
    ) async -> ReflectorStateMachine.Action {
        // Spread server-side timeouts (client-go: 5–10 min) so the nodes' watches do not all renew together.
        let seconds = Int.random(in: options.watchTimeoutSeconds...(2 * options.watchTimeoutSeconds))
        var query = selectors()
        query += [
            ("watch", "true"), ("resourceVersion", version), ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", "\(seconds)"),
        ]
        let response: HTTPClientResponse
        do {
            response = try await connection.send(.GET, path: resource.path, query: query)
        } catch {
            if Task.isCancelled { return .list }
            report(error, sink)
            return machine.failed(expired: error.isExpired)
        }
        var splitter = WatchStreamSplitter(maximumEventSize: options.maximumEventSize)
        do {
            for try await chunk in response.body {
                var events: [ClusterEvent] = []
                for line in try splitter.append(chunk) {
                    let decoded: DecodedEvent
                    do {
                        decoded = try resource.decodeEvent(Data(line.readableBytesView))
                    } catch {
                        throw KubeClientError.malformedResponse(
                            path: resource.path, detail: "bad watch event: \(ObjectDecodingError(error, object: nil))")
                    }
                    let input: ReflectorStateMachine.WatchInput
                    switch decoded {
                    case .upsert(let object):
                        events.append(.upsert(object))
                        input = .object(resourceVersion: object.metadata.resourceVersion)
                    case .delete(let key, let objectVersion):
                        events.append(.delete(resource.kind, key))
                        input = .object(resourceVersion: objectVersion)
                    case .bookmark(let bookmarkVersion):
                        input = .bookmark(resourceVersion: bookmarkVersion)
                    case .invalid(let object, let objectVersion):
                        logger.error("Skipping an object kproxy cannot read", metadata: ["error": "\(object.problem)"])
                        // A relist would leave it out, so drop an earlier good version now: what the model
                        // holds must not depend on when the last relist happened.
                        if let key = object.key { events.append(.delete(resource.kind, key)) }
                        sink.skipped([object])
                        input = .object(resourceVersion: objectVersion)
                    case .error(let status):
                        if !events.isEmpty { sink.deliver(events, listed: nil) }
                        let error = connection.statusError(status.code, status, path: resource.path)
                        if !status.isExpired {
                            report(error, sink)
                        } else {
                            logger.info("Watch expired; re-listing", metadata: ["status": "\(status)"])
                        }
                        input = .error(code: status.code, expired: status.isExpired)
                    }
                    if case .stop(let next) = machine.watchReceived(input) { return next }
                }
                if !events.isEmpty { sink.deliver(events, listed: nil) }
            }
            try splitter.finish()
        } catch {
            if Task.isCancelled { return .list }
            let failure: KubeClientError
            switch error {
            case let error as KubeClientError: failure = error
            case let error as WatchStreamSplitter.Failure:
                failure = .malformedResponse(path: resource.path, detail: error.description)
            default: failure = connection.classify(error)
            }
            report(failure, sink)
            return machine.failed(expired: false)
        }
        return machine.watchEnded()
    }
}

/// How reflectors behave; defaults follow client-go.
public struct ReflectorOptions: Sendable, Hashable {
    public var backoff: Backoff
    /// The watch's server-side `timeoutSeconds` is picked at random between this and twice this.
    public var watchTimeoutSeconds: Int
    public var maximumEventSize: Int
    /// Objects per list page (`limit`); 0 lists everything in one response.
    public var listPageSize: Int

    public init(
        backoff: Backoff = Backoff(), watchTimeoutSeconds: Int = 300,
        maximumEventSize: Int = WatchStreamSplitter.defaultMaximumEventSize, listPageSize: Int = 500
    ) {
        self.backoff = backoff
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.maximumEventSize = maximumEventSize
        self.listPageSize = listPageSize
    }
}
