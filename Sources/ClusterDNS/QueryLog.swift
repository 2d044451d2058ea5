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

    public func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
        let reply = await inner.respond(to: query, from: client, transport: transport)
        if let question = query.question {
            logger.info(
                "query",
                metadata: [
                    "client": "\(client)", "name": "\(question.name)", "type": "\(question.type)",
                    "transport": "\(transport.rawValue)", "rcode": "\(reply?.rcode ?? .refused)",
                    "answers": "\(reply?.answers.count ?? 0)",
                ])
        }
        return reply
    }
}
