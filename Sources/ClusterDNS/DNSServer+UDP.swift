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
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(pipeline: pipeline, limit: limit))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

/// Answers each datagram in its own task, so a slow forwarded query does not hold up cluster answers.
final class UDPQueryHandler<Responder: DNSResponder>: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let pipeline: QueryPipeline<Responder>
    let limit: InFlightLimit

    init(pipeline: QueryPipeline<Responder>, limit: InFlightLimit) {
        self.pipeline = pipeline
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let client = IPAddress(socketAddress: envelope.remoteAddress), limit.tryAcquire() else { return }
        let packet = Array(envelope.data.readableBytesView)
        let remote = envelope.remoteAddress
        let channel = context.channel
        let (pipeline, limit) = (self.pipeline, self.limit)
        Task {
            defer { limit.release() }
            guard let reply = await pipeline.answer(packet: packet, from: client, transport: .udp) else { return }
            channel.writeAndFlush(
                AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: reply)),
                promise: nil
            )
        }
    }

    /// A failed send (ICMP errors on a reused socket) concerns one client; the socket stays open.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
