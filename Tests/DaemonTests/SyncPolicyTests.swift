import Daemon
import Testing

@Suite("Sync policy and health")
struct SyncPolicyTests {
    let t0 = ContinuousClock.now

    func policy() -> SyncPolicy { SyncPolicy(minSyncPeriod: .seconds(1), syncPeriod: .seconds(30)) }

    @Test func nothingIsProgrammedBeforeEverySourceSynced() {
        var p = policy()
        p.changeArrived(at: t0)
        #expect(p.nextAction(now: t0 + .seconds(100)) == .waitForSources)
        p.sourcesDidSync()
        #expect(p.nextAction(now: t0) == .sync(full: true))
    }

    @Test func changesCoalesceForMinSyncPeriodThenSyncPartially() {
        var p = policy()
        p.sourcesDidSync()
        p.syncStarted(at: t0, full: true)
        p.syncFinished(at: t0, succeeded: true, startedAt: t0)
        p.changeArrived(at: t0 + .milliseconds(100))
        p.changeArrived(at: t0 + .milliseconds(200))
        #expect(p.nextAction(now: t0 + .milliseconds(300)) == .wait(until: t0 + .seconds(1)))
        #expect(p.nextAction(now: t0 + .seconds(1)) == .sync(full: false))
    }

    @Test func periodicResyncWithoutChanges() {
        var p = policy()
        p.sourcesDidSync()
        p.syncStarted(at: t0, full: true)
        p.syncFinished(at: t0, succeeded: true, startedAt: t0)
        #expect(p.nextAction(now: t0 + .seconds(5)) == .wait(until: t0 + .seconds(30)))
        #expect(p.nextAction(now: t0 + .seconds(30)) == .sync(full: false))
    }

    @Test func failureForcesTheNextSyncToBeFull() {
        var p = policy()
        p.sourcesDidSync()
        p.syncStarted(at: t0, full: true)
        p.syncFinished(at: t0, succeeded: true, startedAt: t0)
        p.changeArrived(at: t0 + .seconds(2))
        p.syncStarted(at: t0 + .seconds(2), full: false)
        p.syncFinished(at: t0 + .seconds(2), succeeded: false, startedAt: t0 + .seconds(2))
        #expect(p.nextAction(now: t0 + .seconds(3)) == .sync(full: true))
    }

    @Test func nodeChangeAndTheHourlyRewriteAreFull() {
        var p = policy()
        p.sourcesDidSync()
        p.syncStarted(at: t0, full: true)
        p.nodeChanged(at: t0 + .seconds(5))
        #expect(p.nextAction(now: t0 + .seconds(5)) == .sync(full: true))
        p.syncStarted(at: t0 + .seconds(5), full: true)
        p.changeArrived(at: t0 + .seconds(100))
        #expect(p.nextAction(now: t0 + .seconds(100)) == .sync(full: false))
        #expect(p.nextAction(now: t0 + .seconds(3605)) == .sync(full: true), "an hour after the last full sync")
    }

    @Test func healthTurnsBadWhenAQueuedChangeWaitsTooLong() {
        var h = HealthState(timeout: .seconds(60))
        #expect(h.isHealthy(now: t0))
        h.queued(at: t0)
        #expect(h.isHealthy(now: t0 + .seconds(59)))
        #expect(!h.isHealthy(now: t0 + .seconds(60)))
        h.updated(at: t0 + .seconds(61), syncStartedAt: t0 + .seconds(61))
        #expect(h.isHealthy(now: t0 + .seconds(61)))
    }

    @Test func aSyncThatStartedBeforeTheChangeDoesNotClearIt() {
        var h = HealthState(timeout: .seconds(60))
        h.queued(at: t0 + .seconds(10))
        h.updated(at: t0 + .seconds(11), syncStartedAt: t0 + .seconds(9))
        #expect(h.oldestPending == t0 + .seconds(10))
    }

    @Test func deletingNodeFailsHealthzButNotLivez() {
        var h = HealthState(timeout: .seconds(60))
        h.nodeDeleting = true
        #expect(!h.isHealthy(now: t0))
        #expect(h.isLive(now: t0))
    }
}
