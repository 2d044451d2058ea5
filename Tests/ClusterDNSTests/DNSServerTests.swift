import KubeModel
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import ClusterDNS

/// The NIO listeners on loopback with ephemeral ports; no root needed.
@Suite(.serialized) struct DNSServerTests {
    /// `big.test` has 100 A records (one RRset); everything else one A record. `slow.test` waits 600 ms
    /// (like a forwarded query); the others are answered on the event loop.
    struct FixedResponder: DNSResponder {
        static let slow = try! DNSName("slow.test")

        func respondImmediately(
            to query: Message,
            from client: IPAddress,
            transport: Transport
        )
            -> ImmediateResponse
        {
            query.questions[0].name == Self.slow ? .needsSuspension : .answered(answer(query))
        }

        func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
            if query.questions[0].name == Self.slow { try? await Task.sleep(for: .milliseconds(600)) }
            return answer(query)
        }

        func answer(_ query: Message) -> Message {
            var reply = query.makeResponse()
            let name = query.questions[0].name
            let count = name == (try! DNSName("big.test")) ? 100 : 1
            reply.answers = (0..<count).map {
                ResourceRecord(name: name, ttl: 5, data: .a(.v4(0x0a00_0000 | UInt32($0))))
            }
            return reply
        }
    }

    static func withServer(
        _ configuration: DNSServerConfiguration = DNSServerConfiguration(host: "127.0.0.1", port: 0, udpSockets: 2),
        _ body: (DNSServer<FixedResponder>.Listeners) async throws -> Void
    ) async throws {
        let server = DNSServer(configuration: configuration, responder: FixedResponder(), logger: Logger(label: "test"))
        let listeners = try await server.bind()
        do {
            try await body(listeners)
        } catch {
            await listeners.close()
            throw error
        }
        await listeners.close()
    }

    static func upstream(_ address: SocketAddress?) throws -> Upstream {
        let address = try #require(address)
        return Upstream(address: IPAddress(address.ipAddress!)!, port: address.port!)
    }

    @Test func answersOverUDPAndTruncatesToTheClientLimit() async throws {
        try await Self.withServer { listeners in
            let exchanger = NIOUpstreamExchanger()
            let server = try Self.upstream(listeners.udpAddress)
            let small = Message.query(id: 1, name: try DNSName("Small.Test"), type: .a, edns: nil)
            let reply = try Message(
                decoding: try await exchanger.exchange(small.encoded(), with: server, over: .udp, timeout: .seconds(2))
            )
            #expect(reply.id == 1 && reply.answers.count == 1)
            #expect(reply.answers[0].name.description == "Small.Test.")

            let big = Message.query(id: 2, name: try DNSName("big.test"), type: .a, edns: nil)
            let truncated = try Message(
                decoding: try await exchanger.exchange(big.encoded(), with: server, over: .udp, timeout: .seconds(2))
            )
            #expect(truncated.isTruncated && truncated.answers.isEmpty)
            let full = try Message(
                decoding: try await exchanger.exchange(big.encoded(), with: server, over: .tcp, timeout: .seconds(2))
            )
            #expect(!full.isTruncated && full.answers.count == 100)
        }
    }

    @Test func aSlowUDPQueryDoesNotHoldUpOthers() async throws {
        try await Self.withServer(DNSServerConfiguration(host: "127.0.0.1", port: 0, udpSockets: 1)) { listeners in
            let server = try Self.upstream(listeners.udpAddress)
            let exchanger = NIOUpstreamExchanger()
            let slow = Message.query(id: 20, name: FixedResponder.slow, type: .a).encoded()
            let fast = Message.query(id: 21, name: try DNSName("fast.test"), type: .a).encoded()
            let start = ContinuousClock.now
            async let slowReply = exchanger.exchange(slow, with: server, over: .udp, timeout: .seconds(2))
            try await Task.sleep(for: .milliseconds(20))
            _ = try await exchanger.exchange(fast, with: server, over: .udp, timeout: .seconds(2))
            let fastDone = ContinuousClock.now - start
            _ = try await slowReply
            #expect(fastDone < .milliseconds(500), "fast answer took \(fastDone)")
            #expect(ContinuousClock.now - start >= .milliseconds(600))
        }
    }

    @Test func servesIPv6() async throws {
        try await Self.withServer(DNSServerConfiguration(host: "::1", port: 0, udpSockets: 1)) { listeners in
            let server = try Self.upstream(listeners.udpAddress)
            #expect(server.address == IPAddress("::1"))
            let query = Message.query(id: 6, name: try DNSName("v6.test"), type: .a)
            for transport in [Transport.udp, .tcp] {
                let bytes = try await NIOUpstreamExchanger().exchange(
                    query.encoded(),
                    with: server,
                    over: transport,
                    timeout: .seconds(2)
                )
                #expect(try Message(decoding: bytes).answers.count == 1)
            }
        }
    }

    @Test func servesSeveralQueriesOnOneTCPConnectionOutOfOrder() async throws {
        try await Self.withServer { listeners in
            let address = try #require(listeners.tcpAddress)
            let slow = Message.query(id: 10, name: try DNSName("slow.test"), type: .a).encoded()
            let fast = Message.query(id: 11, name: try DNSName("fast.test"), type: .a).encoded()
            let ids = try await Self.tcpSession(
                to: address,
                send: Message.tcpFramed(slow) + Message.tcpFramed(fast),
                expect: 2
            )
            // The fast answer does not wait behind the slow one.
            #expect(ids == [11, 10])
        }
    }

    @Test func aMaximalGarbageFrameGetsFormErrAndTheConnectionGoesOn() async throws {
        try await Self.withServer { listeners in
            let address = try #require(listeners.tcpAddress)
            var generator = SplitMix64(seed: 7)
            // 65535 bytes: a query header (ID 0x0bad, 1 question) followed by one endless run of labels.
            var garbage: [UInt8] = [0x0b, 0xad, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
            while garbage.count < 65535 {
                garbage += [63] + (0..<63).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            }
            garbage = Array(garbage.prefix(65535))
            let valid = Message.query(id: 12, name: try DNSName("after.test"), type: .a).encoded()
            let ids = try await Self.tcpSession(
                to: address,
                send: Message.tcpFramed(garbage) + Message.tcpFramed(valid),
                expect: 2
            )
            #expect(Set(ids) == [0x0bad, 12])
        }
    }

    @Test func closesIdleAndTricklingConnections() async throws {
        try await Self.withServer(
            DNSServerConfiguration(host: "127.0.0.1", port: 0, tcpIdleTimeout: .milliseconds(200))
        ) { listeners in
            let address = try #require(listeners.tcpAddress)
            let start = ContinuousClock.now
            let channel = try await Self.connect(to: address)
            try await channel.executeThenClose { inbound, outbound in
                // One byte every 50 ms never completes a query, so it does not count as activity.
                let trickle = Task {
                    for byte in Message.tcpFramed(Message.query(id: 1, name: .root, type: .ns).encoded()) {
                        try? await outbound.write(ByteBuffer(bytes: [byte]))
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                }
                await Self.drainUntilClosed(inbound)
                trickle.cancel()
            }
            #expect(ContinuousClock.now - start < .seconds(1))
        }
    }

    @Test func capsTCPConnectionsPerClient() async throws {
        try await Self.withServer(
            DNSServerConfiguration(host: "127.0.0.1", port: 0, maxTCPConnections: 10, maxTCPConnectionsPerClient: 1)
        ) { listeners in
            let address = try #require(listeners.tcpAddress)
            let held = try await Self.connect(to: address)
            try await Task.sleep(for: .milliseconds(50))
            let second = try await Self.connect(to: address)
            try await second.executeThenClose { inbound, _ in
                await Self.drainUntilClosed(inbound)  // closed by the server: 127.0.0.1 already holds its one slot
            }
            // Another client address still gets in.
            let other = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(to: try SocketAddress(ipAddress: "127.0.0.2", port: 0))
                .connect(to: address) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let query = Message.query(id: 4, name: try DNSName("b.test"), type: .a).encoded()
            try await other.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: Message.tcpFramed(query)))
                var iterator = inbound.makeAsyncIterator()
                #expect(try await iterator.next() != nil)
            }
            try await held.channel.close()
        }
    }

    @Test func capsTCPConnections() async throws {
        try await Self.withServer(DNSServerConfiguration(host: "127.0.0.1", port: 0, maxTCPConnections: 2)) {
            listeners in
            let address = try #require(listeners.tcpAddress)
            let held = [try await Self.connect(to: address), try await Self.connect(to: address)]
            try await Task.sleep(for: .milliseconds(50))
            let rejected = try await Self.connect(to: address)
            try await rejected.executeThenClose { inbound, _ in
                await Self.drainUntilClosed(inbound)  // ends when the server closes it
            }
            // The held connections still work.
            let query = Message.query(id: 3, name: try DNSName("a.test"), type: .a).encoded()
            try await held[0].executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: Message.tcpFramed(query)))
                var iterator = inbound.makeAsyncIterator()
                let reply = try #require(try await iterator.next())
                #expect(reply.readableBytes > 12)
            }
            try await held[1].channel.close()
        }
    }

    /// Reads until the server closes the connection; a reset (the server closed with our bytes unread)
    /// counts as closed too.
    static func drainUntilClosed(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async {
        do {
            for try await _ in inbound {}
        } catch {}
    }

    static func connect(to address: SocketAddress) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(to: address) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    }

    /// Sends `bytes`, reads `expect` framed replies, and returns their IDs in arrival order.
    static func tcpSession(to address: SocketAddress, send bytes: [UInt8], expect: Int) async throws -> [UInt16] {
        let channel = try await connect(to: address)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            var buffer: [UInt8] = []
            var ids: [UInt16] = []
            for try await chunk in inbound {
                buffer += chunk.readableBytesView
                while buffer.count >= 2, buffer.count >= 2 + (Int(buffer[0]) << 8 | Int(buffer[1])) {
                    let length = Int(buffer[0]) << 8 | Int(buffer[1])
                    let message = try Message(decoding: Array(buffer[2..<(2 + length)]))
                    ids.append(message.id)
                    buffer.removeFirst(2 + length)
                }
                if ids.count == expect { break }
            }
            return ids
        }
    }
}
