/// Which upstreams are up, as a pure state machine; the forwarder feeds it outcomes and the clock.
///
/// After ``maxFails`` consecutive failures an upstream is down: it is tried only after every healthy one,
/// and the health checker probes it until it answers. Any answer counts as healthy, even SERVFAIL or
/// REFUSED, as CoreDNS's forward plugin does: the server is reachable, the name is the problem.
struct UpstreamHealth: Sendable {
    struct State: Sendable {
        var consecutiveFailures = 0
        var isDown = false
    }

    let maxFails: Int
    private(set) var states: [State]

    init(count: Int, maxFails: Int) {
        self.maxFails = max(1, maxFails)
        self.states = Array(repeating: State(), count: count)
    }

    /// Healthy upstreams in configured order, then the down ones: when all are down, trying them beats
    /// failing outright.
    var order: [Int] {
        states.indices.filter { !states[$0].isDown } + states.indices.filter { states[$0].isDown }
    }

    var downIndices: [Int] { states.indices.filter { states[$0].isDown } }

    /// Records an answer; true if this brought the upstream back up.
    mutating func recordSuccess(_ index: Int) -> Bool {
        let wasDown = states[index].isDown
        states[index] = State()
        return wasDown
    }

    /// Records a timeout or network error; true if this took the upstream down.
    mutating func recordFailure(_ index: Int) -> Bool {
        states[index].consecutiveFailures += 1
        guard !states[index].isDown, states[index].consecutiveFailures >= maxFails else { return false }
        states[index].isDown = true
        return true
    }
}
