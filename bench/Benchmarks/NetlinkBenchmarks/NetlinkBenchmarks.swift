import Benchmark
import Foundation
import Netfilter
import RuleSynth
import Synchronization

/// DESIGN.md §6: programming the full ruleset (10k Services × 10 endpoints) over netlink in ≤ 0.25× the time
/// of `nft -f` of the same rendered text, and a one-Service change at 50k Services in ≤ 0.1× of `nft -f` of
/// the same change. Each pair runs in the same job against identical kernel state in scratch network
/// namespaces (`kpt-bench-*`, deleted at the end); compare the medians of a pair as a ratio.
///
/// Needs root. The netlink side includes encoding the transaction; the nft side includes only nft (the text
/// is rendered beforehand), so the comparison is the two mechanisms from the same `Transaction`.
let benchmarks: @Sendable () -> Void = {
    // Encoding alone (no kernel, no root): the user-space share of the netlink full sync.
    Benchmark(
        "Encode full ruleset as a netlink batch, 10k Services x 10 endpoints",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal],
            timeUnits: .milliseconds,
            warmupIterations: 1,
            maxDuration: .seconds(30),
            maxIterations: 10
        )
    ) { benchmark in
        let transaction = SyncPlanner.fullSync(Fixture.shared(10_000).synthesizer.ruleset)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try NetlinkBatch(transaction)) }
    }

    guard geteuid() == 0 else {
        print("NetlinkBenchmarks: skipped, programming nftables in scratch namespaces needs root")
        return
    }
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(60),
        maxIterations: 10
    )

    for size in [1_000, 10_000] {
        let iterations = size >= 10_000 ? 5 : 20
        Benchmark(
            "Full ruleset over netlink, \(size / 1000)k Services x 10 endpoints",
            configuration: .init(maxIterations: iterations)
        ) { benchmark in
            let state = try FullSync.shared(size)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { try state.viaNetlink.client.apply(state.transaction) }
        }
        Benchmark(
            "Full ruleset via nft -f, \(size / 1000)k Services x 10 endpoints",
            configuration: .init(maxIterations: iterations)
        ) { benchmark in
            let state = try FullSync.shared(size)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { try state.viaNft.nft(file: state.file) }
        }
    }

    for size in [10_000, 50_000] {
        Benchmark(
            "One-Service change over netlink (there and back), \(size / 1000)k Services",
            configuration: .init(maxIterations: 20)
        ) { benchmark in
            let state = try OneServiceChange.shared(size)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try state.namespace.client.apply(state.forward)
                try state.namespace.client.apply(state.backward)
            }
        }
        Benchmark(
            "One-Service change via nft -f (there and back), \(size / 1000)k Services",
            configuration: .init(maxIterations: 20)
        ) { benchmark in
            let state = try OneServiceChange.shared(size)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try state.namespace.nft(file: state.forwardFile)
                try state.namespace.nft(file: state.backwardFile)
            }
        }
    }
}

/// A scratch network namespace with a netlink client in it; deleted at exit.
final class BenchNamespace: Sendable {
    let name: String
    let client: NetfilterClient

    init() throws {
        let name = "kpt-bench-\(UInt32.random(in: 0..<UInt32.max))"
        try run(["ip", "netns", "add", name])
        namespacesToDelete.withLock { $0.append(name) }
        self.name = name
        client = try NetfilterClient(netns: name)
    }

    func nft(file: String) throws { try run(["ip", "netns", "exec", name, "nft", "-f", file]) }
}

/// Namespaces to delete when the benchmark process exits (benchmarks have no global teardown).
let namespacesToDelete: Mutex<[String]> = {
    atexit {
        for name in namespacesToDelete.withLock({ $0 }) { _ = try? run(["ip", "netns", "delete", name]) }
    }
    return Mutex([])
}()

func run(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchError(
            description: "\(arguments.joined(separator: " ")): \(String(decoding: message, as: UTF8.self))"
        )
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
}

func write(_ text: String) throws -> String {
    let path = NSTemporaryDirectory() + "kpt-bench-\(UInt32.random(in: 0..<UInt32.max)).nft"
    try text.write(toFile: path, atomically: false, encoding: .utf8)
    return path
}

/// The full-sync transaction for a cluster size, its rendered text, and one namespace per mechanism.
/// Every iteration replaces the whole table (`add table` + `delete table` + everything), as a full sync does.
final class FullSync: Sendable {
    let transaction: Transaction
    let file: String
    let viaNetlink: BenchNamespace
    let viaNft: BenchNamespace

    init(services: Int) throws {
        transaction = SyncPlanner.fullSync(Fixture.shared(services).synthesizer.ruleset)
        file = try write(transaction.render())
        viaNetlink = try BenchNamespace()
        viaNft = try BenchNamespace()
    }

    static func shared(_ services: Int) throws -> FullSync {
        try cache.withLock { cache in
            if let state = cache[services] { return state }
            let state = try FullSync(services: services)
            cache[services] = state
            return state
        }
    }

    private static let cache = Mutex<[Int: FullSync]>([:])
}

/// A namespace loaded with a cluster, and the diff that replaces one endpoint of one Service plus the diff
/// back, so iterations alternate between the two states.
final class OneServiceChange: Sendable {
    let namespace: BenchNamespace
    let forward: Transaction
    let backward: Transaction
    let forwardFile: String
    let backwardFile: String

    init(services: Int) throws {
        let fixture = Fixture.shared(services)
        var synthesizer = fixture.synthesizer
        let original = synthesizer.ruleset
        let changed = synthesizer.synthesize(fixture.changedSnapshot, changed: fixture.changedPorts)
        let there = fixture.planner.plan(changed, now: 0)
        // Stale-chain deletions never fall due: the clock stays at 0 for both directions.
        let back = there.next.plan(original, now: 0)
        forward = there.transaction
        backward = back.transaction
        forwardFile = try write(forward.render())
        backwardFile = try write(backward.render())
        namespace = try BenchNamespace()
        try namespace.client.apply(SyncPlanner.fullSync(original))
    }

    static func shared(_ services: Int) throws -> OneServiceChange {
        try cache.withLock { cache in
            if let state = cache[services] { return state }
            let state = try OneServiceChange(services: services)
            cache[services] = state
            return state
        }
    }

    private static let cache = Mutex<[Int: OneServiceChange]>([:])
}
