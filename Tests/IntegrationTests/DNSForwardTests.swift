import ClusterDNS
import Foundation
import KubeModel
import NIOCore
import Testing

/// kproxy forwarding to a real dnsmasq, queried with a real dig, over UDP and TCP.
@Suite(
    .serialized,
    .enabled(if: DNSForwardHarness.toolsMissing == nil, "needs dig (bind9-dnsutils) and dnsmasq (dnsmasq-base)")
)
struct DNSForwardTests {
    @Test func forwardsOverUDPAndTCPAndCachesTheAnswer() async throws {
        let dnsmasq = try DNSForwardHarness.Dnsmasq()
        defer { dnsmasq.stop() }
        try await dnsmasq.waitUntilReady()
        try await DNSForwardHarness.withForwardingServer(upstreams: [dnsmasq.upstream]) { port in
            let udp = try await DNSForwardHarness.dig("WwW.Example.Net", port: port)
            #expect(udp.status == "NOERROR", "\(udp.output)")
            #expect(udp.answers.map(\.2) == ["192.0.2.53"], "\(udp.output)")
            #expect(udp.answers.first?.0 == "WwW.Example.Net.", "the answer echoes the query's case")
            #expect(udp.output.contains(" ra"), "recursion available is set: \(udp.output)")

            let tcp = try await DNSForwardHarness.dig("tcp.example.net", port: port, tcp: true)
            #expect(tcp.status == "NOERROR", "\(tcp.output)")
            #expect(tcp.answers.map(\.2) == ["192.0.2.53"], "\(tcp.output)")

            // The repeat (in another case) comes from the cache: dnsmasq sees the name once.
            try await Task.sleep(for: .seconds(1))
            let again = try await DNSForwardHarness.dig("www.example.net", port: port)
            #expect(again.status == "NOERROR" && again.answers.map(\.2) == ["192.0.2.53"], "\(again.output)")
            #expect(dnsmasq.queries(for: "WwW.Example.Net") + dnsmasq.queries(for: "www.example.net") == 1)
            #expect((again.answers.first?.1 ?? 60) < 60, "the cached TTL counts down: \(again.output)")
        }
    }

    /// dnsmasq truncates 120 A records over UDP; kproxy retries over TCP, then truncates to each client's
    /// own limit: TC for a 512-byte client (which dig then retries over TCP), everything over TCP.
    @Test func bigAnswersRetryUpstreamOverTCPAndTruncatePerClient() async throws {
        let dnsmasq = try DNSForwardHarness.Dnsmasq(bigAnswer: 120)
        defer { dnsmasq.stop() }
        try await dnsmasq.waitUntilReady()
        try await DNSForwardHarness.withForwardingServer(upstreams: [dnsmasq.upstream]) { port in
            let small = try await DNSForwardHarness.dig(
                "big.example.net",
                port: port,
                extra: ["+bufsize=512", "+ignore", "+noedns"]
            )
            #expect(small.status == "NOERROR", "\(small.output)")
            #expect(small.output.contains(" tc"), "TC is set for a 512-byte client: \(small.output)")
            #expect(small.answers.isEmpty, "the single RRset is not split")
            let tcp = try await DNSForwardHarness.dig("big.example.net", port: port, tcp: true)
            #expect(tcp.answers.count == 120, "\(tcp.output)")
            let retried = try await DNSForwardHarness.dig("big.example.net", port: port)
            #expect(retried.answers.count == 120, "dig retries over TCP after TC: \(retried.output)")
            // Upstream saw one UDP query and its TCP retry; the later answers came from the cache.
            #expect(dnsmasq.queries(for: "big.example.net") == 2)
        }
    }

    @Test func refusesClientsOutsideTheACL() async throws {
        let dnsmasq = try DNSForwardHarness.Dnsmasq()
        defer { dnsmasq.stop() }
        try await dnsmasq.waitUntilReady()
        try await DNSForwardHarness.withForwardingServer(upstreams: [dnsmasq.upstream]) { port in
            // 127.0.0.2 is loopback too, but not in the allowed 127.0.0.1/32.
            let outsider = try await DNSForwardHarness.dig("www.example.net", port: port, source: "127.0.0.2")
            #expect(outsider.status == "REFUSED", "\(outsider.output)")
            #expect(outsider.answers.isEmpty)
            #expect(dnsmasq.queries(for: "www.example.net") == 0)
        }
    }

    @Test func failsOverFromDeadUpstreamsToAWorkingOne() async throws {
        let dnsmasq = try DNSForwardHarness.Dnsmasq()
        defer { dnsmasq.stop() }
        try await dnsmasq.waitUntilReady()
        let (blackhole, silent) = try await DNSForwardHarness.blackhole()
        defer { blackhole.close(promise: nil) }
        // Nothing listens on the blackhole's port + 1 here: ICMP port unreachable, refused at once.
        let refused = Upstream(address: silent.address, port: silent.port + 1)
        try await DNSForwardHarness.withForwardingServer(upstreams: [refused, silent, dnsmasq.upstream]) { port in
            let start = ContinuousClock.now
            let result = try await DNSForwardHarness.dig("failover.example.net", port: port)
            #expect(result.status == "NOERROR", "\(result.output)")
            #expect(result.answers.map(\.2) == ["192.0.2.53"])
            // One per-upstream timeout (500 ms) for the silent one, nothing for the refusing one.
            #expect(ContinuousClock.now - start < .milliseconds(1500))
        }
    }

    @Test func deadUpstreamsOnlyGiveSERVFAILWithinTheTimeout() async throws {
        let (blackhole, silent) = try await DNSForwardHarness.blackhole()
        defer { blackhole.close(promise: nil) }
        try await DNSForwardHarness.withForwardingServer(
            upstreams: [silent],
            perUpstreamTimeout: .milliseconds(800),
            totalTimeout: .seconds(1)
        ) { port in
            let start = ContinuousClock.now
            let result = try await DNSForwardHarness.dig("dead.example.net", port: port)
            let elapsed = ContinuousClock.now - start
            #expect(result.status == "SERVFAIL", "\(result.output)")
            #expect(elapsed < .milliseconds(2000), "SERVFAIL after \(elapsed)")
            #expect(elapsed >= .milliseconds(700))
        }
    }
}
