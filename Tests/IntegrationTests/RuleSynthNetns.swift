import Foundation
import Testing

/// A scratch network namespace for applying rulesets with the real nft and kernel. It starts empty, so
/// nothing here can see or change the host's ruleset; `delete()` removes it.
struct ScratchNetns {
    let name: String

    static let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Why these tests cannot run here, if they cannot.
    static var unavailableReason: String? {
        if geteuid() != 0 { return "needs root to create network namespaces" }
        if nft == nil { return "nft is not installed" }
        if ip == nil { return "iproute2 (ip) is not installed" }
        return nil
    }

    init(area: String) throws {
        name = "kpt-\(area)-\(UInt32.random(in: 0...UInt32.max))"
        let (status, output) = try Self.run(Self.ip!, ["netns", "add", name])
        guard status == 0 else { throw NetnsError(message: "ip netns add \(name): \(output)") }
    }

    func delete() { _ = try? Self.run(Self.ip!, ["netns", "delete", name]) }

    /// Applies an `nft -f` script; throws with nft's complaint and the script when nft refuses it.
    func apply(_ script: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).nft")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, output) = try Self.run(Self.ip!, ["netns", "exec", name, Self.nft!, "-f", file.path])
        guard status == 0 else { throw NetnsError(message: "nft -f failed: \(output)\n--- script ---\n\(script)") }
    }

    func listRuleset() throws -> String {
        let (status, output) = try Self.run(Self.ip!, ["netns", "exec", name, Self.nft!, "list", "ruleset"])
        guard status == 0 else { throw NetnsError(message: "nft list ruleset failed: \(output)") }
        return output
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    struct NetnsError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// `nft list ruleset` text in a canonical form: objects sorted within each table and set elements sorted,
/// because the kernel lists objects in creation order and hash-set elements in hash order, neither of
/// which is part of the ruleset's meaning. Element timeouts' `expires` countdowns are dropped.
enum ListingCanon {
    static func canonical(_ listing: String) -> String {
        var tables: [String] = []
        var blocks: [String] = []
        var header: [String] = []
        var current: [String] = []
        var inTable = false
        for line in listing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("table ") {
                inTable = true
                header = [line]
                blocks = []
                current = []
            } else if line == "}" && inTable {
                if !current.isEmpty { blocks.append(current.joined(separator: "\n")) }
                tables.append((header + blocks.sorted()).joined(separator: "\n") + "\n}")
                inTable = false
            } else if inTable {
                if line.hasPrefix("\tcomment ") && current.isEmpty && blocks.isEmpty {
                    header.append(line)
                } else if line.isEmpty {
                    if !current.isEmpty { blocks.append(current.joined(separator: "\n")) }
                    current = []
                } else if line.hasPrefix("\t\t\t     "), let last = current.popLast() {
                    current.append(last + " " + line.trimmingCharacters(in: .whitespaces))
                } else {
                    current.append(line)
                }
            }
        }
        return tables.sorted().joined(separator: "\n").split(separator: "\n").map { sortElements(String($0)) }
            .joined(separator: "\n")
    }

    private static func sortElements(_ line: String) -> String {
        guard let start = line.range(of: "elements = { "), line.hasSuffix(" }") else { return line }
        let body = line[start.upperBound..<line.index(line.endIndex, offsetBy: -2)]
        let elements = body.components(separatedBy: ", ").map { element in
            element.replacingOccurrences(of: #" expires [0-9dhms]+"#, with: "", options: .regularExpression)
        }
        return line[..<start.upperBound] + elements.sorted().joined(separator: ", ") + " }"
    }
}
