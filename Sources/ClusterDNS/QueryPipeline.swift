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
        switch answerImmediately(packet: packet, from: client, transport: transport) {
        case .reply(let bytes): return bytes
        case .needsResponder(let pending): return await complete(pending)
        }
    }

    /// What ``answerImmediately(packet:from:transport:)`` decided.
    public enum Step: Sendable {
        /// The finished reply bytes, or nil for silence.
        case reply([UInt8]?)
        /// The responder must be awaited; pass this to ``complete(_:)``.
        case needsResponder(PendingQuery)
    }

    /// A decoded, validated query waiting for the responder.
    public struct PendingQuery: Sendable {
        let query: Message
        let client: IPAddress
        let transport: Transport
        let start: ContinuousClock.Instant
    }

    /// Everything that can be done without suspending: decoding, validation, and the responder's
    /// immediate answer. The servers call this on the event loop.
    public func answerImmediately(packet: [UInt8], from client: IPAddress, transport: Transport) -> Step {
        let start = ContinuousClock.now
        let query: Message
        do {
            query = try Message(decoding: packet)
        } catch {
            guard let reply = Message.formatErrorResponse(toMalformed: packet) else { return .reply(nil) }
            metrics.recordQuery(type: RecordType(rawValue: 0), rcode: .formatError, transport: transport)
            return .reply(reply.encoded())
        }
        guard !query.isResponse else { return .reply(nil) }
        let reply: Message
        if let rejection = validate(query) {
            reply = rejection
        } else {
            switch responder.respondImmediately(to: query, from: client, transport: transport) {
            case .answered(let answer):
                reply = fixUp(answer, for: query)
            case .needsSuspension:
                return .needsResponder(PendingQuery(query: query, client: client, transport: transport, start: start))
            }
        }
        return .reply(finish(reply, for: query, transport: transport, start: start))
    }

    /// Awaits the responder for a query ``answerImmediately(packet:from:transport:)`` could not finish.
    public func complete(_ pending: PendingQuery) async -> [UInt8]? {
        let answer = await responder.respond(to: pending.query, from: pending.client, transport: pending.transport)
        let reply = fixUp(answer, for: pending.query)
        return finish(reply, for: pending.query, transport: pending.transport, start: pending.start)
    }

    private func finish(
        _ reply: Message,
        for query: Message,
        transport: Transport,
        start: ContinuousClock.Instant
    ) -> [UInt8] {
        let limit = transport == .udp ? query.udpResponseLimit : Message.tcpLimit
        metrics.recordQuery(
            type: query.question?.type ?? RecordType(rawValue: 0),
            rcode: reply.rcode,
            transport: transport
        )
        metrics.latency.record(duration: ContinuousClock.now - start)
        return reply.encoded(limit: limit)
    }

    /// The response to a query kproxy will not pass to the responder, or nil if it may.
    func validate(_ query: Message) -> Message? {
        // NOTIMP is the answer RFC 1035 §4.1.1 prescribes for opcodes a server does not serve (NOTIFY, UPDATE,
        // IQUERY): kproxy answers standard queries only, by design.
        if query.opcode != .query { return query.makeResponse(rcode: .notImplemented) }
        guard let question = query.question else { return query.makeResponse(rcode: .formatError) }
        if let edns = query.edns, edns.version > 0 {
            // RFC 6891 §6.1.3: answer BADVERS with our version (0) and no question processing.
            return query.makeResponse(rcode: .badVersion)
        }
        // Zone transfers are not offered: the cluster zone changes too fast and the forwarder is no secondary.
        if question.type == .axfr || question.type == .ixfr { return query.makeResponse(rcode: .refused) }
        return nil
    }

    /// The responder's answer with the header and question made to match the query; nil becomes REFUSED.
    func fixUp(_ answer: Message?, for query: Message) -> Message {
        guard var reply = answer else { return query.makeResponse(rcode: .refused) }
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

    public func respondImmediately(
        to query: Message,
        from client: IPAddress,
        transport: Transport
    )
        -> ImmediateResponse
    {
        switch first.respondImmediately(to: query, from: client, transport: transport) {
        case .answered(nil): return second.respondImmediately(to: query, from: client, transport: transport)
        case .answered(let reply): return .answered(reply)
        case .needsSuspension: return .needsSuspension
        }
    }
}
