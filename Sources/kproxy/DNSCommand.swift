import ArgumentParser
import ClusterDNS
import ClusterModel
import Foundation
import KubeModel
import Logging
import NIOPosix

/// `kproxy dns`: the cluster DNS server on its own, fed from manifests, until `kproxy run` wires it to the
/// API server.
struct DNSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns",
        abstract: "Serve cluster DNS for a directory of manifests, forwarding other names upstream.")

    @Option(help: "Read the cluster from this directory of YAML/JSON manifests.")
    var manifests: String

    @Option(help: "Address and port to serve UDP and TCP on.")
    var listen: String = "127.0.0.1:5353"

    @Option(help: "The node kproxy runs on; its pods are the clients server-side search knows.")
    var node: String = "node-a"

    @Option(help: "The cluster domain.")
    var zone: String = "cluster.local"

    @Option(help: "TTL of cluster records, in seconds.")
    var ttl: UInt32 = 5

    @Option(help: "Pod A records: disabled, insecure or verified.")
    var podRecords: ZoneConfig.PodRecords = .insecure

    @Flag(
        inversion: .prefixedEnableDisable,
        help: "Walk a known pod's search list on the server, answering with a CNAME to the name that exists.")
    var serverSideSearch = true

    @Option(help: "The node's resolv.conf: its nameservers are the upstreams and its search list extends pods'.")
    var resolvConf: String = "/etc/resolv.conf"

    @Option(name: .customLong("upstream"), help: "An upstream IP[:PORT]; repeat for more. Replaces resolv.conf's.")
    var upstreams: [String] = []

    @Option(
        name: .customLong("allow-recursion"),
        help: "A CIDR whose clients may use the forwarder; repeat for more. Loopback is always allowed.")
    var allowRecursion: [String] = []

    @Option(help: "UDP sockets (SO_REUSEPORT); defaults to one per core.")
    var udpSockets: Int?

    @Flag(help: "Log every query with its client, name, type and rcode to standard error.")
    var logQueries = false

    @Flag(help: "Print the cluster zone as a master file (for another server to serve the same records) and exit.")
    var printZone = false

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "kproxy.dns")
        guard let address = Upstream(listen) else {
            throw ValidationError("--listen \(listen) is not IP:PORT; use e.g. 127.0.0.1:5353 or [::1]:5353")
        }
        let zoneName: DNSName
        do {
            zoneName = try DNSName(zone)
        } catch {
            throw ValidationError("--zone \(zone): \(error)")
        }
        let allowed =
            try ForwardingResponder<NIOUpstreamExchanger>.loopback
            + allowRecursion.map { text in
                guard let cidr = CIDR(text) else {
                    throw ValidationError("--allow-recursion \(text) is not a CIDR; use e.g. 10.244.0.0/16")
                }
                return cidr
            }
        let snapshot = try loadSnapshot()
        if printZone {
            // Out of zone, so the file needs no glue; kproxy itself answers no NS.
            let nameserver = try DNSName("ns.invalid")
            print(
                ZoneIndex(config: ZoneConfig(zone: zoneName, ttl: ttl), snapshot: snapshot).zoneFile(
                    nameserver: nameserver), terminator: "")
            return
        }
        let node = readNodeResolvConf(logger: logger)
        let upstreamList =
            try upstreams.isEmpty
            ? Upstream.fromNameservers(node?.nameservers ?? [], excluding: [address])
            : upstreams.map { text in
                guard let upstream = Upstream(text) else {
                    throw ValidationError("--upstream \(text) is not IP or IP:PORT")
                }
                return upstream
            }
        if upstreamList.isEmpty {
            logger.warning("no upstream DNS servers: names outside the cluster zone will get SERVFAIL")
        }
        let config = ZoneConfig(
            zone: zoneName, ttl: ttl, podRecords: podRecords, serverSideSearch: serverSideSearch,
            hostSearch: (node?.search ?? []).compactMap { try? DNSName($0) })
        let forwarder = Forwarder(
            configuration: Forwarder.Configuration(upstreams: upstreamList), exchanger: NIOUpstreamExchanger(),
            logger: logger)
        let cluster = ClusterResponder(
            config: config, upstream: ForwardingResponder(forwarder: forwarder, allowedClients: allowed))
        cluster.load(snapshot)
        var server = DNSServerConfiguration(host: address.address.description, port: address.port)
        if let udpSockets { server.udpSockets = udpSockets }
        logger.info(
            "cluster zone loaded",
            metadata: [
                "zone": "\(zoneName)", "services": "\(snapshot.services.count)", "pods": "\(snapshot.pods.count)",
                "upstreams": "\(upstreamList.map(\.description).joined(separator: ","))",
            ])
        if logQueries {
            try await serve(QueryLog(cluster, logger: logger), server, forwarder, logger)
        } else {
            try await serve(cluster, server, forwarder, logger)
        }
    }

    func serve<Responder: DNSResponder>(
        _ responder: Responder, _ configuration: DNSServerConfiguration, _ forwarder: Forwarder<NIOUpstreamExchanger>,
        _ logger: Logger
    ) async throws {
        let server = DNSServer(configuration: configuration, responder: responder, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.addTask { await forwarder.runHealthChecks() }
            try await group.next()
            group.cancelAll()
        }
    }

    func loadSnapshot() throws -> ClusterSnapshot {
        let (snapshot, hadErrors) = try CommandSupport.loadManifests(manifests, nodeName: node)
        guard !hadErrors else { throw ExitCode(1) }
        return snapshot
    }

    /// The node's resolv.conf, or nil with a warning when it cannot be read (no upstreams then).
    func readNodeResolvConf(logger: Logger) -> ResolvConf? {
        guard FileManager.default.isReadableFile(atPath: resolvConf) else {
            logger.warning("cannot read resolv.conf", metadata: ["file": "\(resolvConf)"])
            return nil
        }
        // A device such as /dev/null has no contents to map: it reads as an empty file.
        let data = FileManager.default.contents(atPath: resolvConf) ?? Data()
        return ResolvConf.parse(String(decoding: data, as: UTF8.self))
    }
}

extension ZoneConfig.PodRecords: ExpressibleByArgument {}
