import ClusterModel
import Foundation
import Glibc
import KubeModel
import RuleSynth
import Testing

/// Whether the kernel tests can run: they need root (network namespaces, nftables) and the `nft` binary.
enum NetfilterEnvironment {
    static let isRoot = geteuid() == 0
    static let hasNft = FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")
    static let available = isRoot && hasNft
    static let skipReason: Comment = "needs root and /usr/sbin/nft (run as root, e.g. `make test`)"
}

/// Runs a command and returns its standard output; throws with its standard error when it fails.
@discardableResult
func run(_ arguments: [String], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    try process.run()
    if let input {
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
    }
    // Read the pipes before waiting, so a chatty command cannot block on a full pipe.
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandError(
            command: arguments.joined(separator: " "),
            status: process.terminationStatus,
            stderr: String(decoding: errorText, as: UTF8.self)
        )
    }
    return String(decoding: outputData, as: UTF8.self)
}

struct CommandError: Error, CustomStringConvertible {
    var command: String
    var status: Int32
    var stderr: String
    var description: String { "`\(command)` exited \(status): \(stderr)" }
}

/// A scratch network namespace (`kpt-nf-<random>`), deleted when the owner goes away.
final class ScratchNamespace: @unchecked Sendable {
    let name: String

    init(_ tag: String = "nf") throws {
        name = "kpt-\(tag)-\(UInt32.random(in: 0..<UInt32.max))"
        try run(["ip", "netns", "add", name])
        try run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])
    }

    deinit { _ = try? run(["ip", "netns", "delete", name]) }

    /// Runs a command inside the namespace.
    @discardableResult
    func exec(_ arguments: [String], input: String? = nil) throws -> String {
        try run(["ip", "netns", "exec", name] + arguments, input: input)
    }

    /// `nft -f -` with `text`.
    func nftLoad(_ text: String) throws { try exec(["nft", "-f", "-"], input: text) }

    /// `nft list ruleset`, normalised for comparison: handles are never printed without `-a`, and the
    /// remaining time of timed elements (`expires …`) differs between any two listings.
    func ruleset() throws -> String {
        withoutExpiry(try exec(["nft", "list", "ruleset"]))
    }

    /// ``ruleset()`` with each table's sets, maps and chains sorted by name: nft lists them in creation
    /// order, which differs between a ruleset built up by partial syncs and one loaded at once. Rule order
    /// inside a chain is kept; it matters.
    func canonicalRuleset() throws -> String {
        var output: [String] = []
        var blocks: [[Substring]] = []
        var block: [Substring]?
        for line in try ruleset().split(separator: "\n") {
            if var current = block {
                current.append(line)
                block = line == "\t}" ? nil : current
                if line == "\t}" { blocks.append(current) }
            } else if line.hasPrefix("\tchain ") || line.hasPrefix("\tset ") || line.hasPrefix("\tmap ") {
                block = [line]
            } else if line == "}" {
                output += blocks.sorted { $0[0] < $1[0] }.map { $0.joined(separator: "\n") }
                blocks = []
                output.append("}")
            } else {
                output.append(String(line))
            }
        }
        return output.joined(separator: "\n")
    }

    private func withoutExpiry(_ text: String) -> String {
        text.replacingOccurrences(of: #" expires [0-9dhms]+"#, with: "", options: .regularExpression)
    }

    /// `nft --debug=netlink list ruleset`: the kernel's bytecode, element flags and userdata, which a plain
    /// listing can hide. Rule handles (the numbers after a rule's chain name) are dropped, and each set's
    /// element lines are sorted: a hash set dumps in the order of its per-set random hash seed.
    func bytecode() throws -> String {
        let text = withoutExpiry(try exec(["nft", "--debug=netlink", "list", "ruleset"]))
            .replacingOccurrences(of: #"(?m)^(ip6? \S+ \S+)( [0-9]+)+$"#, with: "$1", options: .regularExpression)
        var lines: [Substring] = []
        var elements: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("\telement ") {
                elements.append(line)
                continue
            }
            lines += elements.sorted()
            elements = []
            lines.append(line)
        }
        lines += elements.sorted()
        return lines.joined(separator: "\n")
    }
}

/// The lines only in `actual` (+) or only in `expected` (-), for readable failures of long listings.
func lineDifference(_ actual: String, _ expected: String) -> String {
    let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let difference = actualLines.difference(from: expectedLines)
    return difference.map { change in
        switch change {
        case .insert(let offset, let line, _): return "+\(offset): \(line)"
        case .remove(let offset, let line, _): return "-\(offset): \(line)"
        }
    }.joined(separator: "\n")
}

/// The kproxy executable `swift build` leaves next to the tests.
let kproxyBinary = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../.build/debug/kproxy").standardized.path

/// The demo cluster (`deploy/examples/demo-cluster`) as node-a sees it, with node-a's addresses.
enum DemoCluster {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../deploy/examples/demo-cluster").standardized.path
    static let configFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../deploy/examples/demo-config.yaml").standardized.path

    static let node = NodeConfig(
        nodeName: "node-a",
        nodeIPs: [IPAddress("10.0.0.11")!, IPAddress("fd00::11")!],
        nodePortAddresses: [CIDR("10.0.0.11/32")!, CIDR("fd00::11/128")!],
        clusterCIDRs: [CIDR("10.244.0.0/16")!, CIDR("fd00:10:244::/56")!],
        zone: "zone-a"
    )

    static func snapshot() throws -> ClusterSnapshot {
        let load = try ManifestLoader.load(directory: directory)
        var state = ClusterState(nodeName: node.nodeName)
        state.apply(load.events)
        return state.snapshot
    }
}
