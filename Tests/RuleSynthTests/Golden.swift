import Foundation
import Testing

/// Golden files under `Tests/RuleSynthTests/Golden/`. Set `KPROXY_REGENERATE_GOLDEN=1` to rewrite them
/// after an intended change, then review the diff.
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static func check(_ name: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let url = directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["KPROXY_REGENERATE_GOLDEN"] == "1" {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            #expect(throws: Never.self, sourceLocation: sourceLocation) {
                try text.write(to: url, atomically: true, encoding: .utf8)
            }
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record(
                "golden file \(url.path) is missing: run with KPROXY_REGENERATE_GOLDEN=1 to create it",
                sourceLocation: sourceLocation)
            return
        }
        if expected != text {
            let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let actualLines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let common = min(expectedLines.count, actualLines.count)
            let first = (0..<common).first { expectedLines[$0] != actualLines[$0] } ?? common
            let want = first < expectedLines.count ? String(expectedLines[first]) : "<end>"
            let got = first < actualLines.count ? String(actualLines[first]) : "<end>"
            let message =
                "\(name) differs at line \(first + 1):\n  golden: \(want)\n  actual: \(got)\n"
                + "(KPROXY_REGENERATE_GOLDEN=1 rewrites the golden files)"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        }
    }
}

/// Runs `nft -c -f` on text in a throwaway network namespace (`unshare --net`), so the check never sees or
/// touches the host's ruleset. Unavailable without root or without nft.
enum NftCheck {
    static let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let unshare = ["/usr/bin/unshare", "/bin/unshare"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static var unavailableReason: String? {
        if nft == nil { return "nft is not installed" }
        if unshare == nil { return "unshare is not installed" }
        if geteuid() != 0 { return "nft -c needs root (CAP_NET_ADMIN)" }
        return nil
    }

    /// nil when nft accepts the text; otherwise nft's complaint.
    static func check(_ text: String) throws -> String? {
        guard let nft, let unshare else { return nil }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kpt-synth-\(UUID().uuidString).nft")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: unshare)
        process.arguments = ["--net", nft, "-c", "-f", file.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? nil : String(decoding: output, as: UTF8.self)
    }
}
