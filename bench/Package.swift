// swift-tools-version: 6.1
import PackageDescription

/// kproxy's benchmarks, kept out of the main package so that ordo-one/benchmark and its dependencies
/// never enter the product build or CI. Run with `swift package --package-path bench benchmark`.
let package = Package(
    name: "kproxy-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "kproxy", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "RuleSynthBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RuleSynth", package: "kproxy"),
                .product(name: "ClusterModel", package: "kproxy"),
                .product(name: "KubeModel", package: "kproxy"),
            ],
            path: "Benchmarks/RuleSynthBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Netfilter
        .executableTarget(
            name: "NetlinkBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Netfilter", package: "kproxy"),
                .product(name: "RuleSynth", package: "kproxy"),
                .product(name: "ClusterModel", package: "kproxy"),
                .product(name: "KubeModel", package: "kproxy"),
            ],
            path: "Benchmarks/NetlinkBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // DNS
        .executableTarget(
            name: "DNSBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ClusterDNS", package: "kproxy"),
                .product(name: "ClusterModel", package: "kproxy"),
                .product(name: "KubeModel", package: "kproxy"),
            ],
            path: "Benchmarks/DNS",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
