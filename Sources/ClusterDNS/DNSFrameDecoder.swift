import KubeModel
import NIOCore

/// Splits a TCP byte stream into DNS messages by their 2-byte length prefix (RFC 1035 §4.2.2, RFC 7766).
/// Emits each message without its prefix; a prefix announcing more than has arrived waits for the rest.
struct DNSFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            buffer.readableBytes >= 2 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // A partial message at EOF is dropped: the client gave up on it.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

extension IPAddress {
    /// The client's address from a socket address, without going through text. An IPv4-mapped IPv6
    /// address (`::ffff:a.b.c.d`, seen on dual-stack sockets) becomes the IPv4 address it carries, so the
    /// recursion ACL sees the client as configured.
    init?(socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let address):
            self = .v4(UInt32(bigEndian: address.address.sin_addr.s_addr))
        case .v6(let address):
            var raw = address.address.sin6_addr
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                self.init(bytes: bytes[12..<16])
            } else {
                self.init(bytes: bytes)
            }
        default:
            return nil
        }
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
