import CNetfilter
import CNetfilterShims
import Glibc
import RuleSynth
import Synchronization

/// Programs nftables in one network namespace over a netlink socket kept open for the client's lifetime.
///
/// Calls block the calling thread for the kernel round trip (milliseconds, or about a second for a full
/// 10k-Service load), and are serialised: one batch is in flight at a time, as the kernel processes them anyway.
public final class NetfilterClient: Sendable {
    private let socket: Mutex<NetlinkSocket>
    private let sequence: Mutex<UInt32>
    /// The namespace this client programs, nil for the caller's own; only for messages.
    public let netns: String?

    /// Opens the client in the current network namespace, or in `netns` (a name under `/run/netns`, or a
    /// path such as `/proc/PID/ns/net`).
    public init(netns: String? = nil) throws(NetfilterError) {
        self.socket = Mutex(try NetlinkSocket(bus: NETLINK_NETFILTER, netns: netns))
        self.sequence = Mutex(UInt32(truncatingIfNeeded: time(nil)))
        self.netns = netns
    }

    /// Applies `transaction` atomically: the kernel commits every operation or none. On failure the
    /// previous ruleset is untouched and the error names each refused object.
    public func apply(_ transaction: Transaction) throws(NetfilterError) {
        guard !transaction.isEmpty else { return }
        let first = sequence.withLock { $0 }
        try send(try NetlinkBatch(transaction, firstSequence: first))
    }

    /// Sends an already encoded batch and waits for every acknowledgement.
    public func send(_ batch: NetlinkBatch) throws(NetfilterError) {
        sequence.withLock { $0 = batch.lastSequence &+ 1 }
        try socket.withLock { socket throws(NetfilterError) in
            // Replies left over from an earlier exchange that failed half-way must not be taken for ours.
            socket.drain()
            // Acks are ~40 bytes but each is its own skb: budget 1 KiB of receive buffer per message, as nft does.
            socket.ensureBuffers(send: batch.count + 4096, receive: max(batch.messages.count * 1024, 1 << 20))
            try batch.withUnsafeBytes { bytes throws(NetfilterError) in
                try socket.send(bytes, context: "sending an nftables batch of \(batch.messages.count) messages")
            }
            try Self.collectAcknowledgements(socket: socket, batch: batch)
        }
    }

    /// Reads one reply per object message. The kernel queues them all when the batch is done; errors come in
    /// message order, and an error on `BATCH_BEGIN` means the batch was refused as a whole.
    private static func collectAcknowledgements(
        socket: borrowing NetlinkSocket,
        batch: NetlinkBatch
    ) throws(NetfilterError) {
        var rejections: [NetfilterError.Rejection] = []
        var received = 0
        var refusedWhole = false
        let slot = 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: slot * 256, alignment: 8)
        defer { buffer.deallocate() }
        while received < batch.messages.count, !refusedWhole {
            let lengths: [Int]
            do {
                lengths = try socket.receive(into: buffer, slot: slot, timeoutSeconds: 30)
            } catch {
                if case .system(_, let code, _) = error, code == ENOBUFS {
                    throw .acknowledgementsLost(expected: batch.messages.count, received: received)
                }
                throw error
            }
            if lengths.isEmpty { throw .acknowledgementsLost(expected: batch.messages.count, received: received) }
            for (index, length) in lengths.enumerated() {
                let datagram = UnsafeRawBufferPointer(start: buffer.baseAddress! + index * slot, count: length)
                try forEachMessage(in: datagram) { header throws(NetfilterError) in
                    guard header.pointee.nlmsg_type == UInt16(NLMSG_ERROR) else { return }
                    let reply = Acknowledgement(header)
                    if let message = batch.message(sequence: header.pointee.nlmsg_seq) {
                        received += 1
                        if reply.code != 0 {
                            rejections.append(
                                .init(operation: batch.describe(message), errno: reply.code, message: reply.text)
                            )
                        }
                    } else if reply.code != 0 {
                        refusedWhole = true
                        rejections.append(.init(operation: "nftables batch", errno: reply.code, message: reply.text))
                    }
                }
            }
        }
        if !rejections.isEmpty { throw .rejected(rejections) }
    }

    /// Sends one request (a `get` or a dump) and collects its reply messages, copied out, until `NLMSG_DONE`
    /// or the final acknowledgement.
    func request(
        _ type: nf_tables_msg_types,
        family: UInt16,
        dump: Bool,
        _ build: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws(NetfilterError) -> [[UInt8]] {
        let seq = sequence.withLock { value in
            value &+= 1
            return value
        }
        return try socket.withLock { socket throws(NetfilterError) -> [[UInt8]] in
            socket.drain()
            var request = [UInt8](repeating: 0, count: 4096)
            let length = request.withUnsafeMutableBytes { raw -> Int in
                let flags = UInt16(NLM_F_ACK | (dump ? NLM_F_DUMP : 0))
                let header = nftnl_nlmsg_build_hdr(
                    raw.baseAddress!.assumingMemoryBound(to: CChar.self),
                    UInt16(type.rawValue),
                    family,
                    flags,
                    seq
                )!
                build(header)
                return Int(header.pointee.nlmsg_len)
            }
            let sent = request.withUnsafeBytes { raw in
                Result { () throws(NetfilterError) in
                    try socket.send(
                        UnsafeRawBufferPointer(rebasing: raw[0..<length]),
                        context: "sending an nftables request"
                    )
                }
            }
            try sent.get()
            return try socket.replies(to: seq)
        }
    }
}

/// An `NLMSG_ERROR` reply: `errno` 0 is an acknowledgement; extended acks may add the kernel's reason.
struct Acknowledgement {
    var code: Int32
    var text: String?

    init(_ header: UnsafePointer<nlmsghdr>) {
        let payload = UnsafeRawPointer(header) + Int(CNetfilter_NLMSG_HDRLEN())
        let error = payload.loadUnaligned(as: Int32.self)
        self.code = -error
        // With NETLINK_CAP_ACK the echoed request is only its header; TLVs (NLMSGERR_ATTR_*) follow it.
        let flags = Int32(header.pointee.nlmsg_flags)
        guard flags & NLM_F_ACK_TLVS != 0 else { return }
        var echoed = MemoryLayout<nlmsghdr>.size
        if flags & NLM_F_CAPPED == 0 {
            echoed = Int(payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        }
        var offset = Int(CNetfilter_NLMSG_HDRLEN()) + 4 + Int(CNetfilter_NLMSG_ALIGN(UInt32(echoed)))
        let total = Int(header.pointee.nlmsg_len)
        let base = UnsafeRawPointer(header)
        while offset + 4 <= total {
            let length = Int(base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = Int32(base.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self))
            guard length >= 4, offset + length <= total else { break }
            if type == Int32(NLMSGERR_ATTR_MSG.rawValue) {
                let bytes = UnsafeRawBufferPointer(start: base + offset + 4, count: length - 4)
                text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            offset += Int(CNetfilter_NLMSG_ALIGN(UInt32(length)))
        }
    }
}
