import KubeModel
import Logging

/// Logs every query a client sent and the rcode it got, then passes the reply through.
///
/// This is the log `kproxy dns --log-queries` prints, which shows the exact sequence of names a pod's
/// resolver tried (and so checks ``SearchPlan`` against the real glibc).
public struct QueryLog<Inner: DNSResponder>: DNSResponder {
    public let inner: Inner
    let logger: Logger

    public init(_ inner: Inner, logger: Logger) {
        self.inner = inner
        self.logger = logger
    }

    public func respondImmediately(
        to query: Message, from client: IPAddress, transport: Transport
    )
        -> ImmediateResponse
    {
        let immediate = inner.respondImmediately(to: query, from: client, transport: transport)
        if case .answered(let reply) = immediate { log(query, reply, client, transport) }
        return immediate
    }

    public func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
        let reply = await inner.respond(to: query, from: client, transport: transport)
        log(query, reply, client, transport)
        return reply
    }

    func log(_ query: Message, _ reply: Message?, _ client: IPAddress, _ transport: Transport) {
        if let question = query.question {
            logger.info(
                "query",
                metadata: [
                    "client": "\(client)", "name": "\(question.name)", "type": "\(question.type)",
                    "transport": "\(transport.rawValue)", "rcode": "\(reply?.rcode ?? .refused)",
                    "answers": "\(reply?.answers.count ?? 0)",
                ])
        }
    }
}
