import Foundation
import Testing

@testable import KubeClient

/// Lets `#expect` call mutating methods (the macro cannot take `inout` operands).
final class Ref<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

@Suite struct ReflectorStateMachineTests {
    @Test func listThenWatchFromTheListVersion() {
        let machine = Ref(ReflectorStateMachine())
        #expect((machine.value.start()) == .list)
        let (action, first) = machine.value.listSucceeded(resourceVersion: "100")
        #expect(action == .watch(resourceVersion: "100"))
        #expect(first)
        #expect(machine.value.hasSynced)
    }

    @Test func tracksVersionsFromObjectsAndBookmarks() {
        let machine = Ref(ReflectorStateMachine())
        _ = machine.value.start()
        _ = machine.value.listSucceeded(resourceVersion: "100")
        #expect((machine.value.watchReceived(.object(resourceVersion: "101"))) == .keepReading)
        #expect((machine.value.watchReceived(.bookmark(resourceVersion: "150"))) == .keepReading)
        #expect(machine.value.resourceVersion == "150")
        // The server's timeoutSeconds ended the watch: resume at once from the bookmark.
        #expect((machine.value.watchEnded()) == .watch(resourceVersion: "150"))
    }

    @Test func expiredWatchRelistsAtOnceAndSyncsOnlyOnce() {
        let machine = Ref(ReflectorStateMachine())
        _ = machine.value.start()
        _ = machine.value.listSucceeded(resourceVersion: "100")
        #expect((machine.value.watchReceived(.error(code: 410, expired: true))) == .stop(.list))
        #expect(machine.value.resourceVersion == nil)
        let (action, first) = machine.value.listSucceeded(resourceVersion: "300")
        #expect(action == .watch(resourceVersion: "300"))
        #expect(!first)
        // A 410 answered to the watch request itself (not as an event) does the same.
        #expect((machine.value.failed(expired: true)) == .list)
    }

    @Test func failuresBackOffAndRetryTheSameStep() {
        let machine = Ref(ReflectorStateMachine())
        _ = machine.value.start()
        #expect((machine.value.failed(expired: false)) == .backOff(attempt: 1))
        #expect((machine.value.backoffElapsed()) == .list)
        #expect((machine.value.failed(expired: false)) == .backOff(attempt: 2))
        #expect((machine.value.backoffElapsed()) == .list)
        _ = machine.value.listSucceeded(resourceVersion: "7")
        #expect(machine.value.consecutiveFailures == 0)
        // Connection lost mid-watch: back off, then resume from the last version, not re-list.
        _ = machine.value.watchReceived(.object(resourceVersion: "9"))
        #expect((machine.value.failed(expired: false)) == .backOff(attempt: 1))
        #expect((machine.value.backoffElapsed()) == .watch(resourceVersion: "9"))
        #expect((machine.value.failed(expired: false)) == .backOff(attempt: 2))
        #expect((machine.value.backoffElapsed()) == .watch(resourceVersion: "9"))
        // Resuming failed with 410 (the server restarted and its cache starts later): re-list.
        #expect((machine.value.failed(expired: true)) == .list)
    }

    @Test func nonExpiredErrorEventBacksOff() {
        let machine = Ref(ReflectorStateMachine())
        _ = machine.value.start()
        _ = machine.value.listSucceeded(resourceVersion: "5")
        #expect((machine.value.watchReceived(.error(code: 500, expired: false))) == .stop(.backOff(attempt: 1)))
        #expect((machine.value.backoffElapsed()) == .watch(resourceVersion: "5"))
    }

    @Test func emptyWatchesAndVersionlessListsBackOff() {
        let machine = Ref(ReflectorStateMachine())
        _ = machine.value.start()
        #expect((machine.value.listSucceeded(resourceVersion: nil)) == (.backOff(attempt: 1), false))
        #expect((machine.value.backoffElapsed()) == .list)
        _ = machine.value.listSucceeded(resourceVersion: "1")
        // A server that closes every watch at once must not cause a busy loop.
        #expect((machine.value.watchEnded()) == .backOff(attempt: 1))
        #expect((machine.value.backoffElapsed()) == .watch(resourceVersion: "1"))
        #expect((machine.value.watchEnded()) == .backOff(attempt: 2))
        #expect((machine.value.backoffElapsed()) == .watch(resourceVersion: "1"))
        _ = machine.value.watchReceived(.bookmark(resourceVersion: "2"))
        #expect((machine.value.watchEnded()) == .watch(resourceVersion: "2"))
    }
}

@Suite struct BackoffTests {
    @Test func growsExponentiallyWithJitterAndCap() {
        let backoff = Backoff(initial: .milliseconds(800), maximum: .seconds(30), factor: 2, jitter: 1)
        #expect(backoff.delay(attempt: 1, random: 0) == .milliseconds(800))
        #expect(backoff.delay(attempt: 2, random: 0) == .milliseconds(1600))
        #expect(backoff.delay(attempt: 3, random: 0.5) == .milliseconds(4800))
        #expect(backoff.delay(attempt: 1, random: 0.999_999) <= .milliseconds(1600))
        #expect(backoff.delay(attempt: 6, random: 0) == .milliseconds(25600))
        #expect(backoff.delay(attempt: 6, random: 1) == .seconds(30))
        #expect(backoff.delay(attempt: 1000, random: 0.3) == .seconds(30))
        #expect(backoff.delay(attempt: 0, random: 0) == .milliseconds(800))
    }
}

@Suite struct EventRateLimiterTests {
    @Test func limitsRepeatsAndBursts() {
        let limiter = Ref(EventRateLimiter(burst: 2, refillInterval: .seconds(10), repeatInterval: .seconds(60)))
        let t0 = ContinuousClock.now
        #expect((limiter.value.allow(key: "a", now: t0)) == true)
        #expect(
            (limiter.value.allow(key: "a", now: t0 + .seconds(1)) == false), "same object and reason within a minute")
        #expect((limiter.value.allow(key: "b", now: t0 + .seconds(1)) == true))
        #expect((limiter.value.allow(key: "c", now: t0 + .seconds(2)) == false), "bucket empty")
        #expect((limiter.value.allow(key: "c", now: t0 + .seconds(12)) == true), "one token refilled after 10 s")
        #expect((limiter.value.allow(key: "a", now: t0 + .seconds(70)) == true))
    }
}

@Suite struct EventBodyTests {
    @Test func anEventNamesItsObjectAndSource() throws {
        let body = EventRecorder.body(
            .warning, reason: "SyncFailed", message: "cannot program",
            about:
                EventSubject(kind: "Service", namespace: "demo", name: "web", uid: "u-1"),
            namespace: "demo", component: "kproxy", host: "node-a", now: Date(timeIntervalSince1970: 0))
        let json = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(json["kind"] as? String == "Event")
        #expect(json["type"] as? String == "Warning")
        #expect(json["reason"] as? String == "SyncFailed")
        #expect(json["firstTimestamp"] as? String == "1970-01-01T00:00:00Z")
        let involved = try #require(json["involvedObject"] as? [String: String])
        #expect(involved == ["kind": "Service", "apiVersion": "v1", "namespace": "demo", "name": "web", "uid": "u-1"])
        let source = try #require(json["source"] as? [String: String])
        #expect(source == ["component": "kproxy", "host": "node-a"])
    }
}
