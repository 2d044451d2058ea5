import KubeModel

/// How a query reached kproxy; UDP answers are truncated to the client's limit, TCP answers are not.
public enum Transport: String, Hashable, Sendable {
    case udp
    case tcp
}

/// Something that answers DNS queries: the cluster zone, the forwarder, or a composition of them.
///
/// The servers are built around this, after apple/container's `DNSHandler`: they decode, call
/// ``respond(to:from:transport:)``, then encode and truncate. Tests call responders directly.
public protocol DNSResponder: Sendable {
    /// The response, or nil when this responder has nothing to say about the query (for example, a name
    /// outside its zone), so that a composition can ask the next one. The servers answer a final nil with
    /// REFUSED. The response's ID and question are the server's to fix up; it need not truncate.
    func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message?

    /// The same answer without suspending, when it is at hand (an in-memory zone, a cache hit), or
    /// ``ImmediateResponse/needsSuspension`` to make the server call ``respond(to:from:transport:)``.
    ///
    /// The servers call this on the event loop first: an answer given here costs no task and no thread
    /// hop, which is most of the cost of a cluster-zone answer. It must not block. The default defers.
    func respondImmediately(to query: Message, from client: IPAddress, transport: Transport) -> ImmediateResponse
}

/// The outcome of ``DNSResponder/respondImmediately(to:from:transport:)``.
public enum ImmediateResponse: Sendable {
    /// What ``DNSResponder/respond(to:from:transport:)`` would return.
    case answered(Message?)
    /// Answering needs I/O or waiting.
    case needsSuspension
}

extension DNSResponder {
    public func respondImmediately(
        to query: Message,
        from client: IPAddress,
        transport: Transport
    )
        -> ImmediateResponse
    {
        .needsSuspension
    }
}
