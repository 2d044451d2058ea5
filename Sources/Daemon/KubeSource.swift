import ClusterModel
import KubeClient
import Logging

extension KubeClient {
    /// The API server as a sync-loop source: reflector batches, then "synced" once every resource has
    /// listed. Failures are retried inside the client; they are logged here and the model keeps its last
    /// state meanwhile, so an unreachable API server never flushes programmed rules.
    public func sourceUpdates(_ watch: ClusterWatch, logger: Logger) -> AsyncStream<SourceUpdate> {
        let updates = clusterUpdates(watch)
        return AsyncStream { continuation in
            let task = Task {
                var synced = false
                for await update in updates {
                    switch update {
                    case .events(let events):
                        continuation.yield(SourceUpdate(events: events, synced: synced))
                    case .synced:
                        synced = true
                        continuation.yield(SourceUpdate(events: [], synced: true))
                    case .problem(let error, let resource):
                        logger.error("API server request failed; retrying with backoff", metadata: [
                            "error": "\(error)", "resource": "\(resource?.rawValue ?? "discovery")",
                        ])
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
