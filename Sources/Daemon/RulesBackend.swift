import ClusterModel
import KubeModel
import Logging
import RuleSynth

/// Where a planned ``Transaction`` goes: the kernel over netlink, or standard output in dry-run mode.
public protocol TransactionSink: Sendable {
    /// Applies the whole transaction atomically; throwing means the kernel kept its previous state.
    func apply(_ transaction: Transaction) async throws
}

/// Programs the model as nftables rules: incremental synthesis, a planned diff, one atomic transaction.
///
/// It keeps what it last programmed in memory and never lists the kernel's table to sync (kube-proxy's
/// nftables mode paid seconds per sync for that at scale). After a failed batch the planner starts over,
/// so the next transaction is a full replacement.
public actor RulesBackend: ProxyBackend {
    private let configuration: Configuration
    private let sink: any TransactionSink
    private let conntrack: ConntrackCleaner?
    private let logger: Logger
    private var synthesizer: RuleSynthesizer?
    private var planner = SyncPlanner()
    private let epoch = ContinuousClock.now
    /// The last programmed ruleset; `kproxy run --dry-run` and tests read it.
    public private(set) var programmed: Ruleset?

    public init(configuration: Configuration, sink: any TransactionSink, conntrack: ConntrackCleaner? = nil,
                logger: Logger) {
        self.configuration = configuration
        self.sink = sink
        self.conntrack = conntrack
        self.logger = logger
    }

    public func sync(_ snapshot: ClusterSnapshot, changes: ChangeSet, full: Bool) async throws {
        let node = configuration.nodeConfig(nodeName: snapshot.nodeName, node: snapshot.localNode)
        var synthesizer = self.synthesizer.flatMap { $0.node == node ? $0 : nil } ?? RuleSynthesizer(node: node)
        let rebuilt = self.synthesizer?.node != node
        let ruleset = full || rebuilt
            ? synthesizer.synthesize(snapshot)
            : synthesizer.synthesize(snapshot, changed: changes.servicePorts)
        let plan = planner.plan(ruleset, now: (ContinuousClock.now - epoch) / .seconds(1), full: full || rebuilt)
        self.synthesizer = synthesizer
        if plan.transaction.isEmpty {
            planner = plan.next
            return
        }
        do {
            try await sink.apply(plan.transaction)
        } catch {
            planner = SyncPlanner()
            throw error
        }
        planner = plan.next
        programmed = ruleset
        if let conntrack, ConntrackCleaner.isNeeded(after: changes, full: plan.isFull) {
            await conntrack.clean(snapshot)
        }
        logger.debug("programmed", metadata: [
            "full": "\(plan.isFull)", "operations": "\(plan.transaction.operations.count)",
        ])
    }
}

/// Dry run: prints each transaction in `nft -f` syntax instead of applying it.
public struct PrintingSink: TransactionSink {
    let write: @Sendable (String) -> Void

    public init(write: @escaping @Sendable (String) -> Void = { print($0, terminator: "") }) { self.write = write }

    public func apply(_ transaction: Transaction) async throws {
        write(transaction.render())
    }
}
