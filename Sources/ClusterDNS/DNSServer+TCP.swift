import KubeModel
import NIOCore
import NIOPosix
import Synchronization

extension DNSServer {
    func bindTCP(host: String, port: Int) async throws -> any Channel {
        let pipeline = self.pipeline
        let connections = TCPConnectionTable(
            total: configuration.maxTCPConnections,
            perClient: configuration.maxTCPConnectionsPerClient
        )
        let idleTimeout = configuration.tcpIdleTimeout.timeAmount
        let maxInFlight = configuration.maxQueriesPerTCPConnection
        let metrics = pipeline.metrics
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard let address = channel.remoteAddress, let client = IPAddress(socketAddress: address),
                    connections.tryAcquire(for: client)
                else {
                    metrics.tcpConnectionsRejected.increment()
                    return channel.eventLoop.makeFailedFuture(TooManyTCPConnections())
                }
                channel.closeFuture.whenComplete { _ in connections.release(for: client) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(
                        TCPQueryHandler(pipeline: pipeline, maxInFlight: maxInFlight, idleTimeout: idleTimeout)
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

struct TooManyTCPConnections: Error {}

/// Open TCP connections, in total and per client address, so one client cannot take every slot.
final class TCPConnectionTable: Sendable {
    private let counts = Mutex<(total: Int, byClient: [IPAddress: Int])>((0, [:]))
    let total: Int
    let perClient: Int

    init(total: Int, perClient: Int) {
        self.total = max(1, total)
        self.perClient = max(1, perClient)
    }

    func tryAcquire(for client: IPAddress) -> Bool {
        counts.withLock { counts in
            let mine = counts.byClient[client, default: 0]
            guard counts.total < total, mine < perClient else { return false }
            counts.total += 1
            counts.byClient[client] = mine + 1
            return true
        }
    }

    func release(for client: IPAddress) {
        counts.withLock { counts in
            counts.total -= 1
            let mine = counts.byClient[client, default: 1] - 1
            counts.byClient[client] = mine > 0 ? mine : nil
        }
    }
}

/// Serves one TCP connection: several queries may be in flight and answers go out as they are ready
/// (RFC 7766 §6.2.1.1 allows out-of-order replies; the ID matches them up).
///
/// Reading pauses while ``maxInFlight`` queries are pending or the client is not reading its answers,
/// so one connection's backlog stays bounded.
final class TCPQueryHandler<Responder: DNSResponder>: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let pipeline: QueryPipeline<Responder>
    let maxInFlight: Int
    let idleTimeout: TimeAmount
    private var inFlight = 0
    private var readPending = false
    private var idleTimer: Scheduled<Void>?

    init(pipeline: QueryPipeline<Responder>, maxInFlight: Int, idleTimeout: TimeAmount) {
        self.pipeline = pipeline
        self.maxInFlight = max(1, maxInFlight)
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armIdleTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let address = context.channel.remoteAddress, let client = IPAddress(socketAddress: address) else {
            context.close(promise: nil)
            return
        }
        idleTimer?.cancel()
        idleTimer = nil
        inFlight += 1
        let packet = Array(frame.readableBytesView)
        switch pipeline.answerImmediately(packet: packet, from: client, transport: .tcp) {
        case .reply(let reply):
            finished(context: context, reply: reply)
        case .needsResponder(let pending):
            let pipeline = self.pipeline
            context.eventLoop.makeFutureWithTask {
                await pipeline.complete(pending)
            }.assumeIsolated().whenSuccess { reply in
                self.finished(context: context, reply: reply)
            }
        }
    }

    private func finished(context: ChannelHandlerContext, reply: [UInt8]?) {
        inFlight -= 1
        guard context.channel.isActive else { return }
        if let reply {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: Message.tcpFramed(reply))), promise: nil)
        }
        resumeReadingIfPossible(context: context)
        if inFlight == 0 { armIdleTimer(context: context) }
    }

    func read(context: ChannelHandlerContext) {
        if inFlight >= maxInFlight || !context.channel.isWritable {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        guard readPending, inFlight < maxInFlight, context.channel.isWritable else { return }
        readPending = false
        context.read()
    }

    private func armIdleTimer(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) {
            if self.inFlight == 0 { context.close(promise: nil) }
        }
    }

    /// A reset or a bad frame ends this connection only.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
