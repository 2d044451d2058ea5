import Logging
import NIOCore
import ServiceLifecycle

/// The `/healthz`+`/livez` and `/metrics` listeners, as one lifecycle service.
///
/// They bind before the first sync so that probes see "starting" instead of "connection refused", and they
/// close last on shutdown, after the sync loop has stopped.
public struct StatusEndpoints: ServiceLifecycle.Service {
    let healthz: HostPort?
    let metrics: HostPort?
    let health: HealthMonitor
    let group: any EventLoopGroup
    let logger: Logger

    public init(healthz: HostPort?, metrics: HostPort?, health: HealthMonitor, group: any EventLoopGroup,
                logger: Logger) {
        self.healthz = healthz
        self.metrics = metrics
        self.health = health
        self.group = group
        self.logger = logger
    }

    public func run() async throws {
        var servers: [HTTPStatusServer] = []
        let health = self.health
        if let healthz {
            servers.append(try await HTTPStatusServer.start(host: healthz.host, port: Int(healthz.port), group: group) {
                _, path in
                switch path {
                case "/healthz": return health.response(livez: false)
                case "/livez": return health.response(livez: true)
                default: return StatusResponse(status: .notFound, body: "404 page not found\n")
                }
            })
            logger.info("serving health", metadata: ["address": "\(healthz)"])
        }
        if let metrics {
            servers.append(try await HTTPStatusServer.start(host: metrics.host, port: Int(metrics.port), group: group) {
                _, path in
                path == "/metrics" ? MetricsExport.response() : StatusResponse(status: .notFound, body: "404 page not found\n")
            })
            logger.info("serving metrics", metadata: ["address": "\(metrics)"])
        }
        try? await gracefulShutdown()
        for server in servers { await server.close() }
    }
}
