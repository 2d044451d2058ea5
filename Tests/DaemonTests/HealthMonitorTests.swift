import Daemon
import Foundation
import Logging
import Testing

@Suite("Health monitor and metrics export")
struct HealthMonitorTests {
    @Test func healthzTurnsUnavailableWhenAQueuedChangeWaitsTooLong() {
        let monitor = HealthMonitor(timeout: .seconds(10))
        let start = ContinuousClock.now
        #expect(monitor.response(livez: false, now: start).status == .ok)

        monitor.queued(at: start)
        #expect(monitor.response(livez: false, now: start + .seconds(5)).status == .ok)
        let stale = monitor.response(livez: false, now: start + .seconds(11))
        #expect(stale.status == .serviceUnavailable)
        #expect(stale.contentType == "application/json")
        #expect(stale.body.contains(#""nodeEligible": true"#))

        monitor.updated(at: start + .seconds(12), syncStartedAt: start + .seconds(11))
        let healthy = monitor.response(livez: false, now: start + .seconds(12))
        #expect(healthy.status == .ok)
        #expect(!healthy.body.contains(#""lastUpdated": """#), "a programmed sync records its time")
    }

    @Test func aDrainingNodeFailsHealthzButStaysLive() {
        let monitor = HealthMonitor(timeout: .seconds(10))
        monitor.setNodeDeleting(true)
        #expect(monitor.response(livez: false).status == .serviceUnavailable)
        #expect(monitor.response(livez: true).status == .ok)
        #expect(monitor.response(livez: true).body.contains(#""nodeEligible": false"#))
    }

    @Test func syncMetricsReachThePrometheusText() async throws {
        _ = MetricsExport.registry
        let backend = RecordingBackend()
        let (updates, continuation) = AsyncStream<SourceUpdate>.makeStream()
        let loop = SyncLoop(
            nodeName: "node-a", updates: updates, backend: backend, minSyncPeriod: .milliseconds(10),
            syncPeriod: .seconds(30), health: HealthMonitor(timeout: .seconds(60)), logger: Logger(label: "test"))
        let task = Task { try await loop.run() }
        defer { task.cancel() }
        continuation.yield(SourceUpdate(events: [SyncLoopTests.service("a", ip: "10.96.0.1")], synced: true))
        for _ in 0..<200 where backend.recorded.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        let text = MetricsExport.response().body
        for name in ["kproxy_sync_proxy_rules_duration_seconds", "kproxy_sync_full_proxy_rules_duration_seconds",
                     "kproxy_sync_proxy_rules_last_timestamp_seconds", "kproxy_sync_proxy_rules_service_changes_total"] {
            #expect(text.contains(name), "missing \(name)")
        }
    }
}
