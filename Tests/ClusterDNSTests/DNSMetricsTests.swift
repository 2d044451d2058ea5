import KubeModel
import Logging
import MetricsTestKit
import Testing

@testable import ClusterDNS

@Suite struct DNSMetricsTests {
    @Test func countsQueriesByTypeAndRcodeCacheHitsAndUpstreamHealth() async throws {
        let testMetrics = TestMetrics()
        let metrics = DNSMetrics(factory: testMetrics)
        let up = Upstream("192.0.2.1")!
        let down = Upstream("192.0.2.2")!
        let exchanger = ScriptedExchanger([up: .answer(IPAddress("192.0.2.53")!), down: .refuse])
        let forwarder = Forwarder(
            configuration: .init(upstreams: [down, up], maxFails: 1),
            exchanger: exchanger,
            metrics: metrics,
            logger: Logger(label: "test")
        )
        let responder = ForwardingResponder(
            forwarder: forwarder,
            allowedClients: ForwardingResponder<ScriptedExchanger>.loopback,
            metrics: metrics
        )
        let pipeline = QueryPipeline(responder: responder, metrics: metrics)
        let client = IPAddress("127.0.0.1")!
        let query = Message.query(id: 1, name: try DNSName("www.example.net"), type: .a).encoded()
        for _ in 0..<3 { _ = await pipeline.answer(packet: query, from: client, transport: .udp) }
        _ = await pipeline.answer(packet: Array(query.prefix(14)), from: client, transport: .tcp)

        let answered = try testMetrics.expectCounter(
            "kproxy_dns_queries_total",
            [("type", "A"), ("rcode", "NOERROR"), ("proto", "udp")]
        )
        #expect(answered.totalValue == 3)
        let malformed = try testMetrics.expectCounter(
            "kproxy_dns_queries_total",
            [("type", "other"), ("rcode", "FORMERR"), ("proto", "tcp")]
        )
        #expect(malformed.totalValue == 1)
        #expect(try testMetrics.expectCounter("kproxy_dns_cache_hits_total").totalValue == 2)
        #expect(try testMetrics.expectCounter("kproxy_dns_cache_misses_total").totalValue == 1)
        #expect(try testMetrics.expectTimer("kproxy_dns_request_duration_seconds").values.count == 3)
        #expect(
            try testMetrics.expectGauge("kproxy_dns_upstream_healthy", [("upstream", "192.0.2.2:53")]).lastValue == 0
        )
        #expect(
            try testMetrics.expectGauge("kproxy_dns_upstream_healthy", [("upstream", "192.0.2.1:53")]).lastValue == 1
        )
    }
}
