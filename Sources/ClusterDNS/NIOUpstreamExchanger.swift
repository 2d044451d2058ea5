import NIOCore
import NIOPosix

/// Exchanges one query with one upstream over a fresh socket: a connected UDP socket on a random port
/// (so off-path spoofing must guess port and ID, and ICMP port-unreachable fails fast), or a TCP
/// connection for the retry of a truncated answer.
public struct NIOUpstreamExchanger: UpstreamExchanger {
    public let group: any EventLoopGroup

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
    }

    public func exchange(
        _ query: [UInt8],
        with upstream: Upstream,
        over transport: Transport,
        timeout: Duration
    ) async throws -> [UInt8] {
        let address = try SocketAddress(ipAddress: upstream.address.description, port: upstream.port)
        let id = query.count >= 2 ? UInt16(query[0]) << 8 | UInt16(query[1]) : 0
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: [UInt8].self)
        let channelFuture: EventLoopFuture<any Channel>
        switch transport {
        case .udp:
            channelFuture = DatagramBootstrap(group: eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UpstreamDatagramUnwrapper())
                        try channel.pipeline.syncOperations.addHandler(UpstreamReplyHandler(id: id, promise: promise))
                    }
                }
                .connect(to: address)
        case .tcp:
            channelFuture = ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout.timeAmount)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(UpstreamReplyHandler(id: id, promise: promise))
                    }
                }
                .connect(to: address)
        }
        let timer = eventLoop.scheduleTask(in: timeout.timeAmount) { promise.fail(UpstreamTimeout()) }
        channelFuture.whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(error)
            case .success(let channel):
                let payload = transport == .tcp ? Message.tcpFramed(query) : query
                channel.writeAndFlush(ByteBuffer(bytes: payload)).whenFailure { promise.fail($0) }
            }
        }
        promise.futureResult.whenComplete { _ in
            timer.cancel()
            channelFuture.whenSuccess { $0.close(promise: nil) }
        }
        return try await promise.futureResult.get()
    }
}

/// No answer within the per-upstream timeout.
public struct UpstreamTimeout: Error, CustomStringConvertible {
    public var description: String { "upstream DNS server did not answer in time" }
}

/// The upstream closed the connection before answering.
struct UpstreamClosed: Error, CustomStringConvertible {
    var description: String { "upstream DNS server closed the connection without answering" }
}

/// Turns datagrams into plain buffers; a connected socket only delivers the upstream's.
private final class UpstreamDatagramUnwrapper: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias InboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(wrapInboundOut(unwrapInboundIn(data).data))
    }
}

/// Completes the promise with the first message carrying the query's ID; others are ignored.
private final class UpstreamReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let id: UInt16
    private let promise: EventLoopPromise<[UInt8]>

    init(id: UInt16, promise: EventLoopPromise<[UInt8]>) {
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == id else { return }
        promise.succeed(Array(buffer.readableBytesView))
    }

    /// ECONNREFUSED from an ICMP port-unreachable lands here on a connected UDP socket.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(UpstreamClosed())
        context.fireChannelInactive()
    }
}
