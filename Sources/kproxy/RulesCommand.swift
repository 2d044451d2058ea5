import ArgumentParser
import ClusterModel
import Daemon
import Foundation
import KubeModel
import Netfilter
import RuleSynth

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the nftables rules kproxy would program for a cluster (a dry run), or trace a packet.",
        discussion: """
            With --manifests alone, prints the full ruleset as `nft -f` input. With --diff-from, prints the \
            transaction that moves the kernel from the rules for that directory to the rules for --manifests. \
            With --trace, prints what happens to a packet, e.g. --trace "tcp 10.244.1.5 -> 10.96.0.10:53", \
            --trace "udp [fd00:10:244:1::5]:4000 -> [fd00:10:96::a]:53 from cni0". A packet from one of the \
            node's addresses is locally originated unless `from IFACE` says where it arrives.
            """
    )

    @Option(help: "Read the cluster from this directory of YAML/JSON manifests.")
    var manifests: String

    @Option(help: "The node kproxy runs on (default: the config's hostnameOverride).")
    var node: String?

    @Option(help: "A KubeProxyConfiguration file (clusterCIDR, nodePortAddresses, masquerade settings).")
    var config: String?

    @Option(name: .customLong("diff-from"), help: "Print the transaction from this directory's cluster state instead.")
    var diffFrom: String?

    @Option(help: "Trace a packet: \"PROTO SRC[:PORT] -> DST:PORT [from IFACE]\". May be repeated.")
    var trace: [String] = []

    @Flag(help: "Program these rules into the kernel over netlink (one atomic batch) instead of printing them.")
    var apply = false

    @Option(help: "With --apply: program this network namespace (a name under /run/netns, or a path).")
    var netns: String?

    /// The ruleset for one manifest directory, with what produced it.
    struct Plan {
        var snapshot: ClusterSnapshot
        var node: NodeConfig
        var ruleset: Ruleset
        var hadErrors: Bool
    }

    func validate() throws {
        if netns != nil, !apply { throw ValidationError("--netns only applies with --apply") }
        if apply, diffFrom != nil || !trace.isEmpty {
            throw ValidationError("--apply programs the full ruleset; it does not combine with --diff-from or --trace")
        }
    }

    func run() throws {
        let configuration = try CommandSupport.configuration(file: config)
        guard let nodeName = node ?? configuration.hostnameOverride else {
            throw ValidationError("say which node kproxy runs on: --node NAME, or hostnameOverride in --config")
        }
        let target = try plan(manifests, nodeName: nodeName, configuration: configuration)
        var failed = target.hadErrors

        if apply {
            try program(target.ruleset)
        } else if !trace.isEmpty {
            try printTraces(target)
        } else if let diffFrom {
            let source = try plan(diffFrom, nodeName: nodeName, configuration: configuration)
            failed = failed || source.hadErrors
            // The planner's first plan programs the source state; its second is the incremental transaction.
            let programmed = SyncPlanner().plan(source.ruleset, now: 0).next
            print(programmed.plan(target.ruleset, now: 0).transaction.render(), terminator: "")
        } else {
            print(target.ruleset.render(), terminator: "")
        }
        if failed { throw ExitCode(1) }
    }

    func plan(_ directory: String, nodeName: String, configuration: Configuration) throws -> Plan {
        let (snapshot, hadErrors) = try CommandSupport.loadManifests(directory, nodeName: nodeName)
        if snapshot.localNode == nil {
            warn("warning: \(directory) has no Node named \(nodeName), so NodePorts get no node addresses")
        }
        let node = configuration.nodeConfig(nodeName: nodeName, node: snapshot.localNode)
        return Plan(
            snapshot: snapshot,
            node: node,
            ruleset: synthesize(snapshot, node: node),
            hadErrors: hadErrors
        )
    }

    /// Replaces kproxy's tables with `ruleset` in one batch: the full sync the daemon does at start-up, so
    /// the kernel holds exactly what the dry run prints.
    func program(_ ruleset: Ruleset) throws {
        let transaction = SyncPlanner.fullSync(ruleset)
        do {
            try NetfilterClient(netns: netns).apply(transaction)
        } catch {
            warn("kproxy rules --apply: \(error.description)")
            throw ExitCode.failure
        }
        let chains = ruleset.tables.reduce(0) { $0 + $1.chains.count }
        let sets = ruleset.tables.reduce(0) { $0 + $1.sets.count }
        print("programmed \(ruleset.tables.count) tables, \(chains) chains, \(sets) sets and maps in one batch "
            + "of \(transaction.operations.count) operations\(netns.map { " in netns \($0)" } ?? "")")
    }

    func printTraces(_ plan: Plan) throws {
        let local = Set(plan.node.nodeIPs + (plan.snapshot.localNode?.ips ?? []))
        let tracer: Tracer
        do {
            tracer = try Tracer(ruleset: plan.ruleset, localAddresses: local)
        } catch {
            throw ValidationError("cannot trace: \(error)")
        }
        for text in trace {
            do {
                let packet = try Tracer.Packet(parsing: text, localAddresses: local)
                print(try tracer.trace(packet))
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    func warn(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
