import KubeModel
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DNSServer {
    func bindUDP(host: String, port: Int, limit: InFlightLimit) async throws -> any Channel {
        let pipeline = self.pipeline
        return try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            // recvmmsg: up to 32 datagrams of up to 2 KB per system call.
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
            .channelOption(.maxMessagesPerRead, value: 4)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(pipeline: pipeline, limit: limit))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

/// Answers datagrams on the event loop when the responder can answer at once, writing the replies in one
/// batch per read burst (NIO sends them with sendmmsg); only queries that must wait get a task, so a slow
/// forwarded query does not hold up cluster answers.
final class UDPQueryHandler<Responder: DNSResponder>: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let pipeline: QueryPipeline<Responder>
    let limit: InFlightLimit
    private var needsFlush = false

    init(pipeline: QueryPipeline<Responder>, limit: InFlightLimit) {
        self.pipeline = pipeline
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let client = IPAddress(socketAddress: envelope.remoteAddress) else { return }
        let packet = Array(envelope.data.readableBytesView)
        let remote = envelope.remoteAddress
        switch pipeline.answerImmediately(packet: packet, from: client, transport: .udp) {
        case .reply(nil):
            return
        case .reply(let reply?):
            context.write(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: reply))),
                promise: nil
            )
            needsFlush = true
        case .needsResponder(let pending):
            guard limit.tryAcquire() else { return }
            let channel = context.channel
            let (pipeline, limit) = (self.pipeline, self.limit)
            Task {
                defer { limit.release() }
                guard let reply = await pipeline.complete(pending) else { return }
                channel.writeAndFlush(
                    AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: reply)),
                    promise: nil
                )
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// A failed send (ICMP errors on a reused socket) concerns one client; the socket stays open.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
