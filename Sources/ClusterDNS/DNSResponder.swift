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
}
