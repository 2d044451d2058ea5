import ClusterDNS
import ClusterModel
import Foundation
import KubeModel
import Logging
import ServiceLifecycle

/// Cluster DNS as the daemon runs it: the zone fed from the sync loop's change sets, a forwarder for
/// everything else, and a UDP+TCP server on each configured address.
public struct ClusterDNSService: ServiceLifecycle.Service {
    public let responder: ClusterResponder
    private let zoneUpdates = ZoneUpdateQueue()
    let forwarder: Forwarder<NIOUpstreamExchanger>
    let servers: [DNSServerConfiguration]
    let logQueries: Bool
    let logger: Logger

    /// Builds everything from the config; an unusable `dns:` value is reported with its field path.
    public init(configuration: Configuration, logQueries: Bool = false, logger: Logger) throws(ConfigurationError) {
        let dns = configuration.dns
        var problems: [String] = []
        let zone: DNSName
        do {
            zone = try DNSName(dns.zone)
        } catch {
            problems.append("dns.zone: \(dns.zone) is not a domain name: \(error)")
            zone = ZoneConfig.defaultZone
        }
        let servers = dns.listen.enumerated().compactMap { index, address -> DNSServerConfiguration? in
            guard IPAddress(address.host) != nil else {
                problems.append("dns.listen[\(index)]: \(address.host) is not an IP address")
                return nil
            }
            return DNSServerConfiguration(host: address.host, port: Int(address.port))
        }
        guard problems.isEmpty else { throw ConfigurationError(file: "configuration", problems: problems) }

        let node = (try? String(contentsOfFile: dns.resolvConf, encoding: .utf8)).map { ResolvConf.parse($0) }
        if node == nil { logger.warning("cannot read resolv.conf", metadata: ["file": "\(dns.resolvConf)"]) }
        let listening = servers.compactMap { server in IPAddress(server.host).map { Upstream(address: $0, port: server.port) } }
        let upstreams = dns.upstreams.isEmpty
            ? Upstream.fromNameservers(node?.nameservers ?? [], excluding: listening)
            : dns.upstreams.compactMap { address in IPAddress(address.host).map { Upstream(address: $0, port: Int(address.port)) } }
        if upstreams.isEmpty {
            logger.warning("no upstream DNS servers: names outside the cluster zone will get SERVFAIL")
        }
        let allowed = dns.recursionAllowedCIDRs.isEmpty
            ? ForwardingResponder<NIOUpstreamExchanger>.loopback + configuration.clusterCIDRs
            : dns.recursionAllowedCIDRs
        forwarder = Forwarder(
            configuration: Forwarder.Configuration(upstreams: upstreams), exchanger: NIOUpstreamExchanger(),
            logger: logger)
        let zoneConfig = ZoneConfig(
            zone: zone, ttl: dns.ttl, podRecords: ZoneConfig.PodRecords(rawValue: dns.podRecords.rawValue) ?? .insecure,
            serverSideSearch: dns.serverSideSearch, hostSearch: (node?.search ?? []).compactMap { try? DNSName($0) })
        var limits = ResponseCache.Limits()
        limits.capacity = dns.cacheSize
        responder = ClusterResponder(
            config: zoneConfig,
            upstream: ForwardingResponder(forwarder: forwarder, allowedClients: allowed, cacheLimits: limits))
        self.servers = servers
        self.logQueries = logQueries
        self.logger = logger
    }

    /// Feeds the zone: nothing until the sources have synced (queries get SERVFAIL), then each change set,
    /// applied by ``run()`` so that the caller never waits for the index.
    public func observe(_ snapshot: ClusterSnapshot, changes: ChangeSet, synced: Bool) {
        guard synced else { return }
        zoneUpdates.enqueue(snapshot, changes: changes)
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await serve() }
    }

    private func serve() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for server in servers {
                if logQueries {
                    let logged = QueryLog(responder, logger: logger)
                    group.addTask { try await DNSServer(configuration: server, responder: logged, logger: logger).run() }
                } else {
                    let responder = self.responder
                    group.addTask { try await DNSServer(configuration: server, responder: responder, logger: logger).run() }
                }
            }
            group.addTask { await forwarder.runHealthChecks() }
            let (zoneUpdates, responder) = (self.zoneUpdates, self.responder)
            group.addTask { await zoneUpdates.apply(to: responder) }
            try await group.next()
            zoneUpdates.finish()
            group.cancelAll()
        }
    }
}
