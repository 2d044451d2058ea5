import KubeModel

/// What both servers do with a packet: decode, validate, ask the responder, and encode within the
/// transport's size limit. Transport-free, so tests drive it with byte arrays.
public struct QueryPipeline<Responder: DNSResponder>: Sendable {
    public let responder: Responder
    public let metrics: DNSMetrics

    public init(responder: Responder, metrics: DNSMetrics = DNSMetrics()) {
        self.responder = responder
        self.metrics = metrics
    }

    /// The reply's wire bytes (unframed), or nil when the packet deserves silence: shorter than a header,
    /// or itself a response.
    public func answer(packet: [UInt8], from client: IPAddress, transport: Transport) async -> [UInt8]? {
        let start = ContinuousClock.now
        let query: Message
        do {
            query = try Message(decoding: packet)
        } catch {
            guard let reply = Message.formatErrorResponse(toMalformed: packet) else { return nil }
            metrics.recordQuery(type: RecordType(rawValue: 0), rcode: .formatError, transport: transport)
            return reply.encoded()
        }
        guard !query.isResponse else { return nil }
        let reply = await respond(to: query, from: client, transport: transport)
        let limit = transport == .udp ? query.udpResponseLimit : Message.tcpLimit
        metrics.recordQuery(
            type: query.question?.type ?? RecordType(rawValue: 0),
            rcode: reply.rcode,
            transport: transport
        )
        metrics.latency.record(duration: ContinuousClock.now - start)
        return reply.encoded(limit: limit)
    }

    /// The validated response, with the header and question fixed up to match the query.
    func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message {
        if query.opcode != .query { return query.makeResponse(rcode: .notImplemented) }
        guard let question = query.question else { return query.makeResponse(rcode: .formatError) }
        if let edns = query.edns, edns.version > 0 {
            // RFC 6891 §6.1.3: answer BADVERS with our version (0) and no question processing.
            return query.makeResponse(rcode: .badVersion)
        }
        // Zone transfers are not offered: the cluster zone changes too fast and the forwarder is no secondary.
        if question.type == .axfr || question.type == .ixfr { return query.makeResponse(rcode: .refused) }
        guard var reply = await responder.respond(to: query, from: client, transport: transport) else {
            return query.makeResponse(rcode: .refused)
        }
        reply.id = query.id
        reply.isResponse = true
        reply.opcode = query.opcode
        reply.recursionDesired = query.recursionDesired
        reply.checkingDisabled = query.checkingDisabled
        reply.questions = query.questions
        if let edns = query.edns {
            reply.edns = EDNS(udpPayloadSize: EDNS.serverPayloadSize, dnssecOK: edns.dnssecOK)
        } else {
            reply.edns = nil
            if reply.rcode.rawValue > 15 { reply.rcode = .serverFailure }
        }
        return reply
    }
}

/// Asks `first`, and `second` only when `first` has nothing to say: the cluster zone, then the forwarder.
public struct ChainResponder<First: DNSResponder, Second: DNSResponder>: DNSResponder {
    public let first: First
    public let second: Second

    public init(_ first: First, then second: Second) {
        self.first = first
        self.second = second
    }

    public func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
        if let reply = await first.respond(to: query, from: client, transport: transport) { return reply }
        return await second.respond(to: query, from: client, transport: transport)
    }
}
