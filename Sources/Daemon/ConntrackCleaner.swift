import ClusterModel
import Logging
import NIOPosix
import Netfilter

/// Deletes UDP conntrack entries whose backend stopped serving, over ctnetlink, after each sync.
///
/// UDP flows never end on their own, so without this a client keeps sending into a deleted pod until its
/// conntrack entry times out. kube-proxy runs the same reconciliation after every sync.
public struct ConntrackCleaner: Sendable {
    let client: ConntrackClient
    let metrics: ProxyMetrics
    let logger: Logger

    public init(client: ConntrackClient, metrics: ProxyMetrics = ProxyMetrics(), logger: Logger) {
        self.client = client
        self.metrics = metrics
        self.logger = logger
    }

    /// Only when a UDP Service port changed (or on a full sync) can a flow have become stale, so other
    /// syncs skip the conntrack dump.
    public static func isNeeded(after changes: ChangeSet, full: Bool) -> Bool {
        full || changes.servicePorts.contains { $0.protocol == .udp }
    }

    public func clean(_ snapshot: ClusterSnapshot) async {
        let filter = StaleFlowFilter(snapshot: snapshot)
        guard !filter.isEmpty else { return }
        let client = self.client
        do {
            let deleted = try await NIOThreadPool.singleton.runIfActive {
                try client.deleteUDPEntries { entry in
                    filter.isStale(
                        originalDestination: entry.originalDestination, port: entry.originalDestinationPort,
                        replySource: entry.replySource)
                }
            }
            if !deleted.isEmpty {
                metrics.conntrackCleared.increment(by: Int64(deleted.count))
                logger.info("deleted stale UDP conntrack entries", metadata: ["count": "\(deleted.count)"])
            }
        } catch {
            // The rules are programmed either way; a leftover flow expires on its own.
            logger.warning("cannot clean stale UDP conntrack entries", metadata: ["error": "\(error)"])
        }
    }
}
