// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "kproxy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kproxy", targets: ["kproxy"]),
        .library(name: "KubeModel", targets: ["KubeModel"]),
        .library(name: "ClusterModel", targets: ["ClusterModel"]),
        .library(name: "RuleSynth", targets: ["RuleSynth"]),
        .library(name: "Netfilter", targets: ["Netfilter"]),
        .library(name: "ClusterDNS", targets: ["ClusterDNS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .target(name: "KubeModel", swiftSettings: strict),
        .target(
            name: "ClusterModel",
            dependencies: [
                "KubeModel",
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "RuleSynth",
            dependencies: [
                "KubeModel", "ClusterModel", .product(name: "HashTreeCollections", package: "swift-collections"),
            ],
            swiftSettings: strict),
        // Netfilter
        .systemLibrary(
            name: "CNetfilter", pkgConfig: "libnftnl libmnl", providers: [.apt(["libnftnl-dev", "libmnl-dev"])]),
        .target(name: "CNetfilterShims", dependencies: ["CNetfilter"]),
        .target(
            name: "Netfilter", dependencies: ["CNetfilter", "CNetfilterShims", "KubeModel", "RuleSynth"],
            swiftSettings: strict),
        // ClusterDNS
        .target(
            name: "ClusterDNS",
            dependencies: [
                "KubeModel", "ClusterModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        // KubeClient
        .target(
            name: "KubeClient",
            dependencies: [
                "KubeModel", "ClusterModel",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Daemon",
            dependencies: [
                "KubeModel", "ClusterModel", "RuleSynth", "Netfilter", "ClusterDNS", "KubeClient",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "kproxy",
            dependencies: [
                "KubeModel", "ClusterModel", "RuleSynth", "Netfilter", "ClusterDNS", "KubeClient", "Daemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KubeModelTests", dependencies: ["KubeModel"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "ClusterModelTests", dependencies: ["ClusterModel"], swiftSettings: strict),
        .testTarget(
            name: "RuleSynthTests", dependencies: ["RuleSynth", "ClusterModel", "KubeModel"],
            exclude: ["Golden"], swiftSettings: strict),
        .testTarget(
            name: "NetfilterTests", dependencies: ["Netfilter", "CNetfilter", "RuleSynth", "KubeModel"],
            swiftSettings: strict),
        .testTarget(
            name: "ClusterDNSTests",
            dependencies: [
                "ClusterDNS", "KubeModel", "ClusterModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KubeClientTests",
            dependencies: [
                "KubeClient", "KubeModel", "ClusterModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["Daemon", .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strict
        ),
        // Tests that need root, the kernel or a real server; each area's files carry its prefix.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "RuleSynth", "ClusterModel", "KubeModel", "Netfilter", "ClusterDNS", "KubeClient", "Daemon",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
