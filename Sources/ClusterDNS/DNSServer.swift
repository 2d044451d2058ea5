import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The UDP and TCP listeners in front of a ``DNSResponder``.
///
/// Both hand packets to a ``QueryPipeline``; the socket handling lives in `DNSServer+UDP.swift` and
/// `DNSServer+TCP.swift`. TCP is bounded per connection (queries in flight, idle time) and in connection
/// count, so slow or idle clients cannot starve the others (RFC 7766 §6.2).
public struct DNSServer<Responder: DNSResponder>: Sendable {
    public typealias Configuration = DNSServerConfiguration

    public let configuration: Configuration
    public let pipeline: QueryPipeline<Responder>
    let group: any EventLoopGroup
    let logger: Logger

    public init(
        configuration: Configuration,
        responder: Responder,
        metrics: DNSMetrics = DNSMetrics(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.pipeline = QueryPipeline(responder: responder, metrics: metrics)
        self.group = group
        self.logger = logger
    }

    /// Bound listeners; ``close()`` stops them.
    public struct Listeners: Sendable {
        public let udpChannels: [any Channel]
        public let tcpChannel: any Channel

        /// Where UDP listens (the port is the real one when configured as 0).
        public var udpAddress: SocketAddress? { udpChannels.first?.localAddress }
        public var tcpAddress: SocketAddress? { tcpChannel.localAddress }

        public func close() async {
            for channel in udpChannels + [tcpChannel] { try? await channel.close() }
        }
    }

    /// Binds UDP and TCP on the configured address. With port 0, TCP takes the port UDP was given.
    public func bind() async throws -> Listeners {
        let limit = InFlightLimit(configuration.maxUDPInFlight)
        var udpChannels: [any Channel] = []
        do {
            var port = configuration.port
            for _ in 0..<configuration.udpSockets {
                let channel = try await bindUDP(host: configuration.host, port: port, limit: limit)
                port = channel.localAddress?.port ?? port
                udpChannels.append(channel)
            }
            let tcp = try await bindTCP(host: configuration.host, port: port)
            logger.info(
                "DNS server listening",
                metadata: ["address": "\(configuration.host):\(port)", "udpSockets": "\(udpChannels.count)"]
            )
            return Listeners(udpChannels: udpChannels, tcpChannel: tcp)
        } catch {
            for channel in udpChannels { try? await channel.close() }
            throw DNSServerBindError(host: configuration.host, port: configuration.port, underlying: error)
        }
    }

    /// Serves until the task is cancelled, as a swift-service-lifecycle service would.
    public func run() async throws {
        let listeners = try await bind()
        await withTaskCancellationHandler {
            try? await listeners.tcpChannel.closeFuture.get()
        } onCancel: {
            for channel in listeners.udpChannels + [listeners.tcpChannel] { channel.close(promise: nil) }
        }
        await listeners.close()
    }
}

/// Where and how ``DNSServer`` listens.
public struct DNSServerConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// Closes a TCP connection with no query in flight after this long without a complete query.
    /// Bytes of a partial query do not count, so trickling one byte at a time does not keep it open.
    public var tcpIdleTimeout: Duration
    public var maxTCPConnections: Int
    /// Connections one client address may hold, so a single slow or hostile client cannot use them all.
    public var maxTCPConnectionsPerClient: Int
    /// Queries one TCP connection may have in flight; beyond it kproxy stops reading from it.
    public var maxQueriesPerTCPConnection: Int
    /// UDP queries being answered at once over all sockets; beyond it packets are dropped, and clients
    /// retry as they would after loss.
    public var maxUDPInFlight: Int
    /// UDP sockets bound with SO_REUSEPORT, so the kernel spreads queries over event loops.
    public var udpSockets: Int

    /// `kproxy dns` on the demo cluster.
    public static let demo = DNSServerConfiguration(host: "127.0.0.1", port: 5353)
    /// In the DaemonSet, on NodeLocal DNSCache's conventional link-local address.
    public static let nodeLocal = DNSServerConfiguration(host: "169.254.20.10", port: 53)

    public init(
        host: String,
        port: Int,
        tcpIdleTimeout: Duration = .seconds(10),
        maxTCPConnections: Int = 256,
        maxTCPConnectionsPerClient: Int = 32,
        maxQueriesPerTCPConnection: Int = 16,
        maxUDPInFlight: Int = 4096,
        udpSockets: Int = System.coreCount
    ) {
        self.host = host
        self.port = port
        self.tcpIdleTimeout = tcpIdleTimeout
        self.maxTCPConnections = maxTCPConnections
        self.maxTCPConnectionsPerClient = maxTCPConnectionsPerClient
        self.maxQueriesPerTCPConnection = maxQueriesPerTCPConnection
        self.maxUDPInFlight = maxUDPInFlight
        self.udpSockets = max(1, udpSockets)
    }
}

/// The listen address could not be bound; says which and what to check.
public struct DNSServerBindError: Error, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let underlying: any Error

    public var description: String {
        "cannot listen for DNS on \(host):\(port): \(underlying). Check that the address is assigned to an "
            + "interface, that nothing else uses the port, and that kproxy may bind ports below 1024 "
            + "(CAP_NET_BIND_SERVICE); set dns.listen in the config to change it"
    }
}

/// A counter of work in flight with a ceiling, shared across event loops.
final class InFlightLimit: Sendable {
    private let count = Atomic<Int>(0)
    let limit: Int

    init(_ limit: Int) { self.limit = max(1, limit) }

    func tryAcquire() -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        count.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func release() { count.wrappingSubtract(1, ordering: .relaxed) }
}
