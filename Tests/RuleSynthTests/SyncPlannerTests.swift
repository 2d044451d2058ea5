import ClusterModel
import KubeModel
import Testing

@testable import RuleSynth

/// The planner's decisions, without a kernel: what each sync sends and when stale chains go.
@Suite("Sync planner")
struct SyncPlannerTests {
    typealias F = Fixtures

    static let svc1 = F.port("ns1", "svc1", clusterIPs: ["172.30.0.41"])
    static let sticky = F.port("ns5", "svc5", clusterIPs: ["172.30.0.45"]) { $0.sessionAffinityTimeout = 10800 }

    static func lines(_ plan: SyncPlan) -> [String] {
        plan.transaction.render().split(separator: "\n").map(String.init)
    }

    @Test("The first plan is a full sync that replaces both families' tables atomically")
    func firstPlanIsFull() {
        let ruleset = F.ruleset([(Self.svc1, [F.ep("10.180.0.1")])])
        let plan = SyncPlanner().plan(ruleset, now: 0)
        #expect(plan.isFull)
        let text = Self.lines(plan)
        #expect(
            Array(text.prefix(3)) == [
                "add table ip kproxy { comment \"rules for kproxy\" ; }", "delete table ip kproxy",
                "add table ip kproxy { comment \"rules for kproxy\" ; }",
            ])
        // No IPv6 on this node: whatever ip6 kproxy table a previous run left is removed.
        #expect(Array(text.suffix(2)) == ["add table ip6 kproxy", "delete table ip6 kproxy"])
        #expect(plan.next.programmed == ruleset)
        #expect(plan.next.plan(ruleset, now: 1).transaction.isEmpty)
    }

    @Test("An endpoint change refills one chain and swaps hairpin elements")
    func endpointChange() {
        let before = F.ruleset([(Self.svc1, [F.ep("10.180.0.1")])])
        let after = F.ruleset([(Self.svc1, [F.ep("10.180.0.2")])])
        let planner = SyncPlanner().plan(before, now: 0).next
        let chain = ServiceFragment.Names(Self.svc1.name).cluster
        #expect(
            Self.lines(planner.plan(after, now: 1)) == [
                "flush chain ip kproxy \(chain)",
                "delete element ip kproxy hairpin-connections { 10.180.0.1 . 10.180.0.1 . tcp . 80 }",
                "add element ip kproxy hairpin-connections { 10.180.0.2 . 10.180.0.2 . tcp . 80 }",
                "add rule ip kproxy \(chain) meta l4proto tcp dnat to 10.180.0.2:80",
            ])
    }

    @Test("A chain nothing wants is flushed now and deleted no sooner than 1 s later")
    func staleChainLifecycle() {
        let with = F.ruleset([(Self.svc1, [F.ep("10.180.0.1")])])
        let without = F.ruleset([(Self.svc1, [])])
        let chain = ServiceFragment.Names(Self.svc1.name).cluster
        var planner = SyncPlanner().plan(with, now: 0).next

        let removal = planner.plan(without, now: 10)
        #expect(Self.lines(removal).contains("flush chain ip kproxy \(chain)"))
        #expect(!Self.lines(removal).contains("delete chain ip kproxy \(chain)"))
        #expect(removal.next.staleChains[ChainID(family: .ip, name: chain)] == 10)
        #expect(removal.next.nextDeletionDue == 11)
        planner = removal.next

        #expect(planner.plan(without, now: 10.5).transaction.isEmpty)
        let deletion = planner.plan(without, now: 11)
        #expect(Self.lines(deletion) == ["delete chain ip kproxy \(chain)"])
        #expect(deletion.next.staleChains.isEmpty)
        #expect(deletion.next.plan(without, now: 12).transaction.isEmpty)
    }

    @Test("A chain wanted again before its deletion is refilled, not deleted")
    func reactivatedChain() {
        let with = F.ruleset([(Self.svc1, [F.ep("10.180.0.1")])])
        let without = F.ruleset([(Self.svc1, [])])
        let chain = ServiceFragment.Names(Self.svc1.name).cluster
        let flushed = SyncPlanner().plan(with, now: 0).next.plan(without, now: 1).next
        let back = flushed.plan(with, now: 5)
        #expect(!Self.lines(back).contains("delete chain ip kproxy \(chain)"))
        #expect(Self.lines(back).contains("add rule ip kproxy \(chain) meta l4proto tcp dnat to 10.180.0.1:80"))
        #expect(back.next.staleChains.isEmpty)
    }

    @Test("Stale affinity sets are deleted at once; a changed timeout re-creates the set after its chain lets go")
    func affinitySets() {
        let endpoints = [F.ep("10.180.0.3"), F.ep("10.180.0.4")]
        let before = F.ruleset([(Self.sticky, endpoints)])
        let planner = SyncPlanner().plan(before, now: 0).next
        let gone = F.ruleset([(Self.sticky, [F.ep("10.180.0.3")])])
        let dropped = ChainNames.affinity(Self.sticky.name, F.ep("10.180.0.4"))
        #expect(Self.lines(planner.plan(gone, now: 1)).contains("delete set ip kproxy \(dropped)"))

        var longer = Self.sticky
        longer.sessionAffinityTimeout = 60
        let text = Self.lines(planner.plan(F.ruleset([(longer, endpoints)]), now: 1))
        let chain = ServiceFragment.Names(Self.sticky.name).cluster
        let set = ChainNames.affinity(Self.sticky.name, F.ep("10.180.0.3"))
        let flush = text.firstIndex(of: "flush chain ip kproxy \(chain)")
        let delete = text.firstIndex(of: "delete set ip kproxy \(set)")
        let add = text.firstIndex { $0.hasPrefix("add set ip kproxy \(set) {") && $0.contains("timeout 1m") }
        #expect(flush != nil && delete != nil && add != nil)
        if let flush, let delete, let add { #expect(flush < delete && delete < add) }
    }

    @Test("A family the new ruleset lacks loses its table; a new family is built from nothing")
    func familiesComeAndGo() {
        let dual = F.ruleset(node: F.dualNode, [(Self.svc1, [F.ep("10.180.0.1")])])
        let single = F.ruleset([(Self.svc1, [F.ep("10.180.0.1")])])
        let planner = SyncPlanner().plan(single, now: 0).next
        let grow = planner.plan(dual, now: 1)
        #expect(
            Array(Self.lines(grow).prefix(3)) == [
                "add table ip6 kproxy { comment \"rules for kproxy\" ; }", "delete table ip6 kproxy",
                "add table ip6 kproxy { comment \"rules for kproxy\" ; }",
            ])
        #expect(Self.lines(grow.next.plan(single, now: 2)).contains("delete table ip6 kproxy"))
    }
}
