import CNetfilter
import CNetfilterShims
import Glibc

/// Owns one libmnl netlink socket, bound with an automatic port id; closed exactly once.
///
/// A socket belongs to the network namespace it was created in, whatever thread uses it later, so a socket
/// for another namespace is opened on a short-lived thread that first `setns`es into it: the calling
/// thread (and the rest of the process) never change namespace.
struct NetlinkSocket: ~Copyable {
    private let handle: OpaquePointer
    let portID: UInt32
    private var sendBufferSize = 0
    private var receiveBufferSize = 0

    /// Opens a `bus` socket (`NETLINK_NETFILTER`) in the current namespace, or in `netns`: a name under
    /// `/run/netns` (as `ip netns add` creates) or a path such as `/proc/PID/ns/net`.
    init(bus: Int32, netns: String? = nil) throws(NetfilterError) {
        let opened: Result<OpaquePointer, NetfilterError>
        if let netns {
            let path = netns.contains("/") ? netns : "/run/netns/\(netns)"
            opened = Self.openInNamespace(bus: bus, path: path)
        } else {
            opened = Self.open(bus: bus)
        }
        let handle = try opened.get()
        self.handle = handle
        self.portID = mnl_socket_get_portid(handle)
        // Extended acks carry the kernel's reason; capped acks do not echo every request back.
        var one: Int32 = 1
        _ = mnl_socket_setsockopt(handle, NETLINK_EXT_ACK, &one, 4)
        _ = mnl_socket_setsockopt(handle, NETLINK_CAP_ACK, &one, 4)
    }

    deinit { mnl_socket_close(handle) }

    var fileDescriptor: Int32 { mnl_socket_get_fd(handle) }

    private static func open(bus: Int32) -> Result<OpaquePointer, NetfilterError> {
        guard let handle = mnl_socket_open2(bus, Int32(SOCK_CLOEXEC.rawValue)) else {
            return .failure(.system(call: "socket", errno: errno, context: "opening a netlink socket"))
        }
        guard mnl_socket_bind(handle, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let code = errno
            mnl_socket_close(handle)
            return .failure(.system(call: "bind", errno: code, context: "binding a netlink socket"))
        }
        return .success(handle)
    }

    /// Runs ``open(bus:)`` on a fresh thread that has joined the namespace at `path`.
    private static func openInNamespace(bus: Int32, path: String) -> Result<OpaquePointer, NetfilterError> {
        final class Job {
            let bus: Int32
            let path: String
            var result: Result<OpaquePointer, NetfilterError> = .failure(.namespace("", errno: 0))
            init(bus: Int32, path: String) {
                self.bus = bus
                self.path = path
            }
        }
        let job = Job(bus: bus, path: path)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(job).toOpaque()
        let created = pthread_create(
            &thread,
            nil,
            { context in
                let job = Unmanaged<Job>.fromOpaque(context!).takeUnretainedValue()
                let fd = Glibc.open(job.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    job.result = .failure(.namespace(job.path, errno: errno))
                    return nil
                }
                defer { close(fd) }
                guard CNetfilter_setns_net(fd) == 0 else {
                    job.result = .failure(.namespace(job.path, errno: errno))
                    return nil
                }
                job.result = NetlinkSocket.open(bus: job.bus)
                return nil
            },
            context
        )
        guard created == 0 else {
            Unmanaged<Job>.fromOpaque(context).release()
            return .failure(.system(call: "pthread_create", errno: created, context: "entering \(path)"))
        }
        pthread_join(thread, nil)
        Unmanaged<Job>.fromOpaque(context).release()
        return job.result
    }

    /// Grows the socket buffers (never shrinks them) with the `FORCE` variants, which root may use past
    /// `net.core.*mem_max`: a whole batch goes into one `sendmsg`, and every acknowledgement must fit in the
    /// receive queue, because the kernel queues them all before the sender can read one.
    mutating func ensureBuffers(send: Int, receive: Int) {
        if send > sendBufferSize {
            var size = Int32(clamping: send)
            if setsockopt(fileDescriptor, SOL_SOCKET, SO_SNDBUFFORCE, &size, 4) != 0 {
                _ = setsockopt(fileDescriptor, SOL_SOCKET, SO_SNDBUF, &size, 4)
            }
            sendBufferSize = send
        }
        if receive > receiveBufferSize {
            var size = Int32(clamping: receive)
            if setsockopt(fileDescriptor, SOL_SOCKET, SO_RCVBUFFORCE, &size, 4) != 0 {
                _ = setsockopt(fileDescriptor, SOL_SOCKET, SO_RCVBUF, &size, 4)
            }
            receiveBufferSize = receive
        }
    }

    /// Discards whatever is queued for reading, without waiting.
    func drain() {
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        while scratch.withUnsafeMutableBytes({ recv(fileDescriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) })
            > 0
        {}
    }

    func send(_ bytes: UnsafeRawBufferPointer, context: @autoclosure () -> String) throws(NetfilterError) {
        let sent = mnl_socket_sendto(handle, bytes.baseAddress, bytes.count)
        guard sent >= 0 else { throw .system(call: "sendmsg", errno: errno, context: context()) }
        guard sent == bytes.count else {
            throw .system(call: "sendmsg", errno: EMSGSIZE, context: context())
        }
    }

    /// Receives up to `buffer.count / slot` datagrams in one `recvmmsg`, blocking until at least one arrives or
    /// the timeout passes (then returning none). Returns the length of each datagram received.
    func receive(
        into buffer: UnsafeMutableRawBufferPointer,
        slot: Int,
        timeoutSeconds: Int
    ) throws(NetfilterError) -> [Int] {
        let count = buffer.count / slot
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(fileDescriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var lengths = [Int](repeating: 0, count: count)
        let received = lengths.withUnsafeMutableBufferPointer { lengths in
            CNetfilter_recvmmsg(fileDescriptor, buffer.baseAddress, slot, UInt32(count), lengths.baseAddress)
        }
        guard received >= 0 else {
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK { return [] }
            throw .system(call: "recvmmsg", errno: code, context: "reading netlink replies")
        }
        lengths.removeSubrange(Int(received)...)
        if lengths.contains(-1) {
            throw .system(call: "recvmmsg", errno: EMSGSIZE, context: "a netlink reply was larger than \(slot) bytes")
        }
        return lengths
    }
}

extension NetlinkSocket {
    /// Collects the replies to request `sequence`, copied out, until `NLMSG_DONE` or its acknowledgement;
    /// an error reply throws ``NetfilterError/rejected(_:)`` with `operation` as the object.
    func replies(to sequence: UInt32, operation: String = "get") throws(NetfilterError) -> [[UInt8]] {
        var replies: [[UInt8]] = []
        var done = false
        let slot = 1 << 17
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: slot, alignment: 8)
        defer { buffer.deallocate() }
        while !done {
            let lengths = try receive(into: buffer, slot: slot, timeoutSeconds: 30)
            if lengths.isEmpty {
                throw .system(call: "recvmmsg", errno: ETIMEDOUT, context: "waiting for a netlink reply")
            }
            let datagram = UnsafeRawBufferPointer(start: buffer.baseAddress!, count: lengths[0])
            try forEachMessage(in: datagram) { header throws(NetfilterError) in
                guard header.pointee.nlmsg_seq == sequence else { return }
                switch Int32(header.pointee.nlmsg_type) {
                case NLMSG_DONE:
                    done = true
                case NLMSG_ERROR:
                    let reply = Acknowledgement(header)
                    done = true
                    if reply.code != 0 {
                        throw .rejected([.init(operation: operation, errno: reply.code, message: reply.text)])
                    }
                default:
                    replies.append([UInt8](UnsafeRawBufferPointer(start: header, count: Int(header.pointee.nlmsg_len))))
                }
            }
        }
        return replies
    }
}

/// Walks the netlink messages in one datagram.
func forEachMessage(
    in datagram: UnsafeRawBufferPointer,
    _ body: (UnsafePointer<nlmsghdr>) throws(NetfilterError) -> Void
) throws(NetfilterError) {
    var offset = 0
    let header = Int(CNetfilter_NLMSG_HDRLEN())
    while offset + header <= datagram.count {
        let message = (datagram.baseAddress! + offset).assumingMemoryBound(to: nlmsghdr.self)
        let length = Int(message.pointee.nlmsg_len)
        guard length >= header, offset + length <= datagram.count else { return }
        try body(UnsafePointer(message))
        offset += Int(CNetfilter_NLMSG_ALIGN(UInt32(length)))
    }
}
