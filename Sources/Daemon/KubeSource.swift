import ClusterModel
import KubeClient
import Logging

extension KubeClient {
    /// The API server as a sync-loop source: reflector batches, then "synced" once every resource has
    /// listed. Failures are retried inside the client; they are logged here and the model keeps its last
    /// state meanwhile, so an unreachable API server never flushes programmed rules.
    ///
    /// An object kproxy cannot read is logged and, with `events`, gets a Warning Event (reason
    /// ``EventRecorder/invalidObjectReason``) so its owner sees why kproxy ignores it. Events are posted from
    /// a task of their own: a slow API server must not hold back the model updates.
    public func sourceUpdates(
        _ watch: ClusterWatch, events recorder: EventRecorder? = nil, logger: Logger
    ) -> AsyncStream<SourceUpdate> {
        let updates = clusterUpdates(watch)
        return AsyncStream { continuation in
            let task = Task {
                let (skippedObjects, skippedInput) = AsyncStream.makeStream(
                    of: SkippedObject.self, bufferingPolicy: .bufferingNewest(1024))
                await withTaskGroup(of: Void.self) { group in
                    if let recorder {
                        group.addTask {
                            for await object in skippedObjects { await recorder.recordSkipped(object) }
                        }
                    }
                    var synced = false
                    for await update in updates {
                        switch update {
                        case .events(let events):
                            continuation.yield(SourceUpdate(events: events, synced: synced))
                        case .synced:
                            synced = true
                            continuation.yield(SourceUpdate(events: [], synced: true))
                        case .problem(let error, let resource):
                            logger.error(
                                "API server request failed; retrying with backoff",
                                metadata: [
                                    "error": "\(error)", "resource": "\(resource?.rawValue ?? "discovery")",
                                ])
                        case .skipped(let object):
                            logger.error(
                                "Ignoring an object kproxy cannot read",
                                metadata: ["kind": "\(object.kind.rawValue)", "error": "\(object.problem)"])
                            skippedInput.yield(object)
                        }
                    }
                    skippedInput.finish()
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
