import ArgumentParser
import Foundation
import Netfilter

/// `kproxy cleanup`: removes what kproxy programmed, the `ip kproxy` and `ip6 kproxy` tables, and nothing
/// else. The daemon leaves its rules in place on exit so a restart has no traffic gap; this is the way out.
struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete kproxy's nftables tables (ip and ip6 \"kproxy\"); other tables are left alone."
    )

    @Option(help: "Clean up inside this network namespace (a name under /run/netns, or a path).")
    var netns: String?

    @Option(help: "The table name kproxy programs.")
    var table: String = "kproxy"

    func run() throws {
        do {
            let client = try NetfilterClient(netns: netns)
            let deleted = try client.deleteTables(named: table)
            if deleted.isEmpty {
                print("no \(table) tables to delete")
            } else {
                print("deleted " + deleted.map { "table \($0) \(table)" }.joined(separator: ", "))
            }
        } catch {
            // A runtime failure (no permission, no such namespace), not a usage error: no usage text.
            FileHandle.standardError.write(Data("kproxy cleanup: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }
}
