import Benchmark
import ClusterDNS
import KubeModel

/// DESIGN.md §6: cluster-zone answers at ≥ 1.0× Knot DNS (same records, same run). `bench/dns-perf.sh`
/// measures that over the network with dnsperf; these measure the pure query engine and the
/// decode → answer → encode pipeline in process, which bound what the servers can reach, and the index's
/// build and incremental-update costs.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        warmupIterations: 1,
        maxDuration: .seconds(5),
        maxIterations: 100
    )

    for size in [1_000, 10_000] {
        Benchmark(
            "Query engine answers, \(size / 1000)k Services (per batch of queries)",
            configuration: .init(timeUnits: .microseconds)
        ) { benchmark in
            let fixture = DNSFixture.shared(size)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                for query in fixture.queries { blackHole(fixture.index.answer(query, clientNamespace: nil)) }
            }
        }
    }

    Benchmark(
        "Decode, answer and encode, 10k Services (per batch of packets)",
        configuration: .init(timeUnits: .microseconds)
    ) { benchmark in
        let fixture = DNSFixture.shared(10_000)
        let pipeline = Workbench.shared(10_000).pipeline
        let client = IPAddress("10.128.0.1")!
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for packet in fixture.packets {
                blackHole(await pipeline.answer(packet: packet, from: client, transport: .udp))
            }
        }
    }

    Benchmark(
        "Index build (and release), 10k Services",
        configuration: .init(timeUnits: .milliseconds, maxIterations: 20)
    ) { benchmark in
        let fixture = DNSFixture.shared(10_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ZoneIndex(config: ZoneConfig(), snapshot: fixture.snapshot))
        }
    }

    Benchmark(
        "Index update, one headless Service gains an endpoint, 10k Services",
        configuration: .init(timeUnits: .microseconds, maxIterations: 2000)
    ) { benchmark in
        let fixture = DNSFixture.shared(10_000)
        let workbench = Workbench.shared(10_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            // Alternate between the two states so every iteration does real work on the uniquely held index.
            workbench.flip.toggle()
            workbench.index.update(to: workbench.flip ? fixture.changed : fixture.snapshot, changes: fixture.changes)
        }
    }
}
