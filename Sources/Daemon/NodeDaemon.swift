import ClusterModel
import Logging
import NIOPosix
import ServiceLifecycle

/// `kproxy run` assembled: one model from one source, feeding the rules, DNS and the health-check ports.
///
/// Services start in order and stop in reverse, so on SIGTERM the sync loop stops first (the kernel keeps
/// its rules), then DNS, and the health endpoints last.
public struct NodeDaemon: Sendable {
    public var configuration: Configuration
    public var nodeName: String
    /// Where transactions go: the kernel, or standard output for a dry run.
    public var sink: any TransactionSink
    /// Cleans stale UDP flows after each sync; nil in a dry run, which changes nothing in the kernel.
    public var conntrack: ConntrackCleaner?
    /// Whether to open a health-check node port per `externalTrafficPolicy: Local` LoadBalancer; a dry run
    /// programs nothing, so it must not tell load balancers that the node is ready.
    public var serveHealthCheckNodePorts: Bool
    public var logQueries = false
    public var logger: Logger

    public init(configuration: Configuration, nodeName: String, sink: any TransactionSink,
                serveHealthCheckNodePorts: Bool, logger: Logger) {
        self.configuration = configuration
        self.nodeName = nodeName
        self.sink = sink
        self.serveHealthCheckNodePorts = serveHealthCheckNodePorts
        self.logger = logger
    }

    /// Runs until SIGTERM/SIGINT or until `updates` ends. Config errors in the `dns:` section are thrown
    /// before anything starts.
    public func run(updates: AsyncStream<SourceUpdate>) async throws {
        _ = MetricsExport.registry
        let dns = configuration.dns.listen.isEmpty
            ? nil : try ClusterDNSService(configuration: configuration, logQueries: logQueries, logger: logger)
        let healthServers = serveHealthCheckNodePorts
            ? ServiceHealthServers(
                host: configuration.bindAddress?.description ?? "0.0.0.0", group: MultiThreadedEventLoopGroup.singleton,
                logger: logger)
            : nil
        let health = HealthMonitor(timeout: configuration.healthTimeout)
        let nodeName = self.nodeName
        let observer: SyncLoop.ModelObserver = { snapshot, changes, synced in
            dns?.observe(snapshot, changes: changes, synced: synced)
            if changes.nodeChanged { health.setNodeDeleting(snapshot.localNode?.isDeleting ?? false) }
            if synced, let healthServers {
                await healthServers.update(ServiceHealthCheck.desired(in: snapshot), proxyHealthy: health.isHealthy())
            }
        }
        let loop = SyncLoop(
            nodeName: nodeName, updates: updates,
            backend: RulesBackend(configuration: configuration, sink: sink, conntrack: conntrack, logger: logger),
            minSyncPeriod: configuration.minSyncPeriod, syncPeriod: configuration.syncPeriod,
            health: health, logger: logger, observer: observer)
        let status = StatusEndpoints(
            healthz: configuration.healthzBindAddress, metrics: configuration.metricsBindAddress, health: health,
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            [.init(service: status)] + (dns.map { [.init(service: $0)] } ?? []) + [.init(service: loop)]
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await healthServers?.closeAll()
    }
}
