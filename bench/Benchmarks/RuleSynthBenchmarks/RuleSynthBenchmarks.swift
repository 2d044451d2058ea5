import Benchmark
import ClusterModel
import RuleSynth

/// DESIGN.md §6: full synthesis of 10k Services × 10 endpoints in ≤ 50 ms and linear in size; a one-Service
/// change (synthesis + diff) in ≤ 100 µs at 50k Services. Wall-clock time is noisy on the shared build
/// machines, so compare medians, and use the 1k and 10k runs of the same job as the linearity reference.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        maxDuration: .seconds(10),
        maxIterations: 50
    )

    for size in [1_000, 10_000, 50_000] {
        Benchmark(
            "Full synthesis, \(size / 1000)k Services x 10 endpoints",
            configuration: .init(timeUnits: .milliseconds, maxIterations: size >= 50_000 ? 10 : 30)
        ) { benchmark in
            let fixture = Fixture.shared(size)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(synthesize(fixture.snapshot, node: Fixture.node))
            }
        }
    }

    for size in [10_000, 50_000] {
        Benchmark(
            "One-Service endpoint change (synthesis + diff), \(size / 1000)k Services",
            configuration: .init(timeUnits: .microseconds, maxDuration: .seconds(5), maxIterations: 2000)
        ) { benchmark in
            let fixture = Fixture.shared(size)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var synthesizer = fixture.synthesizer
                let updated = synthesizer.synthesize(fixture.changedSnapshot, changed: fixture.changedPorts)
                blackHole(fixture.planner.plan(updated, now: 0))
            }
        }
    }

    Benchmark(
        "Render nft text, 10k Services x 10 endpoints",
        configuration: .init(timeUnits: .milliseconds, maxIterations: 20)
    ) { benchmark in
        let ruleset = Fixture.shared(10_000).synthesizer.ruleset
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ruleset.render())
        }
    }
}
