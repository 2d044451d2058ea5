import Logging
import NIOCore
import Synchronization

/// Runs one HTTP server per `healthCheckNodePort`, opening and closing them as Services come and go.
public actor ServiceHealthServers {
    let host: String
    let group: any EventLoopGroup
    let logger: Logger
    /// Read by the servers' event loops on every request, so it is shared under a lock, not actor-isolated.
    final class SharedState: Sendable {
        let mutex = Mutex<(checks: [UInt16: ServiceHealthCheck], proxyHealthy: Bool)>(([:], true))
    }
    let state = SharedState()
    var servers: [UInt16: HTTPStatusServer] = [:]

    public init(host: String = "0.0.0.0", group: any EventLoopGroup, logger: Logger) {
        self.host = host
        self.group = group
        self.logger = logger
    }

    public var openPorts: [UInt16] { servers.keys.sorted() }

    /// Makes the open servers match `checks`; a port that cannot be bound is logged and retried next time.
    public func update(_ checks: [UInt16: ServiceHealthCheck], proxyHealthy: Bool) async {
        state.mutex.withLock { $0 = (checks, proxyHealthy) }
        for (port, server) in servers where checks[port] == nil {
            await server.close()
            servers[port] = nil
        }
        for port in checks.keys.sorted() where servers[port] == nil {
            let state = self.state
            do {
                servers[port] = try await HTTPStatusServer.start(host: host, port: Int(port), group: group) { _, _ in
                    let (checks, healthy) = state.mutex.withLock { ($0.checks, $0.proxyHealthy) }
                    guard let check = checks[port] else { return StatusResponse(status: .notFound, body: "") }
                    return check.response(proxyHealthy: healthy)
                }
            } catch {
                logger.error("cannot open health check node port", metadata: [
                    "port": "\(port)", "service": "\(checks[port]!.service)", "error": "\(error)",
                ])
            }
        }
    }

    public func closeAll() async {
        for server in servers.values { await server.close() }
        servers = [:]
    }
}
