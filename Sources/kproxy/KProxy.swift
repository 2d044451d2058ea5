import ArgumentParser

@main
struct KProxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kproxy",
        abstract: "A Kubernetes node proxy and cluster DNS server: nftables over netlink, DNS from the same model.",
        subcommands: [Inspect.self, Rules.self, Version.self, DNSCommand.self, ResolveCommand.self]
    )
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print kproxy's version.")

    static let current = "0.1.0"

    func run() {
        print("kproxy \(Version.current)")
    }
}
