import NIOPosix
import Netfilter
import RuleSynth

/// Programs transactions into the kernel over netlink.
///
/// A netlink round trip blocks its thread (about a second for a 10k-Service full load), so it runs on
/// NIO's blocking-I/O pool instead of a cooperative-pool thread that DNS and the API watches need.
public struct NetfilterSink: TransactionSink {
    let client: NetfilterClient

    public init(client: NetfilterClient) { self.client = client }

    public func apply(_ transaction: Transaction) async throws {
        let client = self.client
        try await NIOThreadPool.singleton.runIfActive { try client.apply(transaction) }
    }
}
