import ArgumentParser
import Daemon
import Foundation
import Logging
import KubeClient
import Netfilter

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the node daemon: keep the kernel's rules and the DNS answers in step with the cluster.",
        discussion: """
            The cluster comes from the API server (in-cluster ServiceAccount or a kubeconfig), or from a directory \
            of manifests (--manifests, re-read when its files change). \
            With --dry-run, each transaction is printed in `nft -f` syntax instead of being programmed. \
            SIGTERM and SIGINT stop the daemon and leave the rules in place; `kproxy cleanup` removes them.
            """)

    @Option(help: "A KubeProxyConfiguration file, with kproxy's dns: section.")
    var config: String?

    @Option(help: "Read the cluster from this directory of YAML/JSON manifests instead of the API server.")
    var manifests: String?

    @Option(help: "Reach the API server with this kubeconfig (default: clientConnection.kubeconfig, then in-cluster).")
    var kubeconfig: String?

    @Option(help: "The ServiceAccount directory (token, ca.crt, namespace) of the in-cluster config.")
    var serviceaccountDir: String = ConnectionConfig.defaultServiceAccountDir

    @Flag(
        inversion: .prefixedNo,
        help: "Watch this node's Pods, so DNS knows which namespace a query comes from (needs deploy/rbac.yaml's pods rule).")
    var watchPods = true

    @Option(
        name: [.customLong("node"), .customLong("hostname-override")],
        help: "The node kproxy runs on (default: hostnameOverride, then $NODE_NAME, then the hostname).")
    var node: String?

    @Flag(name: .customLong("dry-run"), help: "Print each transaction instead of programming the kernel.")
    var dryRun = false

    @Option(help: "Program the nftables of this network namespace (a name under /run/netns, or a path).")
    var netns: String?

    @Option(name: .customLong("healthz-bind-address"), help: "Overrides healthzBindAddress (HOST:PORT; empty disables).")
    var healthzBindAddress: String?

    @Option(name: .customLong("metrics-bind-address"), help: "Overrides metricsBindAddress (HOST:PORT; empty disables).")
    var metricsBindAddress: String?

    @Option(name: .customLong("dns-listen"), help: "Overrides dns.listen (IP:PORT; repeat for more; empty disables DNS).")
    var dnsListen: [String] = []

    @Flag(help: "Log every DNS query with its client, name, type and rcode.")
    var logQueries = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "kproxy")
        let configuration = try loadConfiguration()
        let nodeName = node ?? configuration.hostnameOverride ?? ProcessInfo.processInfo.environment["NODE_NAME"]
            ?? ProcessInfo.processInfo.hostName
        let (updates, client) = try clusterSource(configuration: configuration, nodeName: nodeName, logger: logger)
        let sink: any TransactionSink
        var conntrack: ConntrackCleaner?
        if dryRun {
            sink = PrintingSink()
        } else {
            do {
                sink = NetfilterSink(client: try NetfilterClient(netns: netns))
                conntrack = ConntrackCleaner(client: try ConntrackClient(netns: netns), logger: logger)
            } catch {
                throw ValidationError("cannot open the netfilter socket: \(error.description)")
            }
        }
        var daemon = NodeDaemon(
            configuration: configuration, nodeName: nodeName, sink: sink, serveHealthCheckNodePorts: !dryRun,
            logger: logger)
        daemon.logQueries = logQueries
        daemon.conntrack = conntrack
        logger.info("starting", metadata: ["node": "\(nodeName)", "dryRun": "\(dryRun)"])
        do {
            try await daemon.run(updates: updates)
        } catch let error as ConfigurationError {
            await client?.shutdown()
            throw ValidationError(error.description)
        }
        await client?.shutdown()
        logger.info("stopped; the programmed rules stay in place until `kproxy cleanup`")
    }

    /// Manifests when given; otherwise the API server, from --kubeconfig, the config's
    /// clientConnection.kubeconfig, or the in-cluster ServiceAccount, in that order.
    func clusterSource(configuration: Configuration, nodeName: String, logger: Logger) throws
        -> (AsyncStream<SourceUpdate>, KubeClient?)
    {
        if let manifests {
            logger.info("reading the cluster from manifests", metadata: ["directory": "\(manifests)"])
            return (ManifestSource(directory: manifests, logger: logger).updates(), nil)
        }
        let connection: ConnectionConfig
        let client: KubeClient
        do {
            if let kubeconfig = kubeconfig ?? configuration.kubeconfig {
                connection = try ConnectionConfig.kubeconfig(path: kubeconfig)
            } else {
                connection = try ConnectionConfig.inCluster(serviceAccountDir: serviceaccountDir)
            }
            client = try KubeClient(config: connection, logger: logger)
        } catch {
            throw ValidationError(error.description)
        }
        logger.info("reading the cluster from the API server", metadata: [
            "server": "\(connection.serverURL)", "credentials": "\(connection.credentialDescription)",
        ])
        // Events name this node as their source, as kube-proxy's do.
        let recorder = EventRecorder(client: client, host: nodeName)
        let watch = ClusterWatch(nodeName: nodeName, includePods: watchPods)
        return (client.sourceUpdates(watch, events: recorder, logger: logger), client)
    }

    func loadConfiguration() throws -> Configuration {
        var configuration = try CommandSupport.configuration(file: config)
        if let healthzBindAddress {
            configuration.healthzBindAddress = try Self.hostPort(healthzBindAddress, flag: "--healthz-bind-address")
        }
        if let metricsBindAddress {
            configuration.metricsBindAddress = try Self.hostPort(metricsBindAddress, flag: "--metrics-bind-address")
        }
        if !dnsListen.isEmpty {
            configuration.dns.listen = try dnsListen.filter { !$0.isEmpty }.map { text in
                guard let address = HostPort(text) else { throw ValidationError("--dns-listen: \(text) is not IP:PORT") }
                return address
            }
        }
        return configuration
    }

    static func hostPort(_ text: String, flag: String) throws -> HostPort? {
        if text.isEmpty { return nil }
        guard let value = HostPort(text) else { throw ValidationError("\(flag): \(text) is not HOST:PORT") }
        return value
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
