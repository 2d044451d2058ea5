import ArgumentParser
import ClusterDNS
import Foundation
import KubeModel
import Logging

/// `kproxy resolve NAME`: what a pod's C library would ask for NAME, in order, and what each name got.
struct ResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Print the search plan for a name and each candidate's answer, as glibc or musl would walk it.")

    @Argument(help: "The name to resolve, as a program would pass it to getaddrinfo.")
    var name: String

    @Option(help: "The resolv.conf to plan with.")
    var resolvConf: String = "/etc/resolv.conf"

    @Option(help: "Ask this server (IP[:PORT]) instead of resolv.conf's first nameserver.")
    var server: String?

    @Option(help: "Whose resolver to reproduce: glibc, glibc-2.25 or musl.")
    var library: ResolvConf.Library = .glibc

    @Option(help: "Seconds to wait for each answer.")
    var timeout: Int = 2

    func run() async throws {
        guard let text = try? String(contentsOfFile: resolvConf, encoding: .utf8) else {
            throw ValidationError("cannot read \(resolvConf); pass --resolv-conf FILE")
        }
        let conf = ResolvConf.parse(text, library: library)
        let target: Upstream
        if let server {
            guard let parsed = Upstream(server) else { throw ValidationError("--server \(server) is not IP[:PORT]") }
            target = parsed
        } else {
            target = Upstream(address: conf.nameservers[0])
        }
        let search = conf.search.joined(separator: " ")
        print("resolv.conf \(resolvConf) read as \(library): ndots:\(conf.ndots), search \(search)")
        for note in conf.notes { print("  note: \(note)") }
        let plan = SearchPlan(name: name, conf: conf)
        let types = plan.queryTypes.map { RecordType(rawValue: $0) }
        let typeList = types.map(\.description).joined(separator: "+")
        print("plan for \(name): \(plan.candidates.count) candidate(s), \(typeList) each, asking \(target)")

        let forwarder = Forwarder(
            configuration: Forwarder.Configuration(
                upstreams: [target], perUpstreamTimeout: .seconds(timeout), totalTimeout: .seconds(timeout),
                maxFails: 0),
            exchanger: NIOUpstreamExchanger(), logger: Logger(label: "kproxy.resolve"))
        var answered = false
        for (index, candidate) in plan.candidates.enumerated() {
            guard candidate.sendable else {
                print("\(index + 1). \(candidate): not sent, \(library) gives up here")
                break
            }
            print("\(index + 1). \(candidate)")
            var responses: [SearchPlan.Response] = []
            for type in types {
                let reply = await ask(forwarder, candidate.name, type)
                responses.append(
                    SearchPlan.Response(
                        rcode: reply.map { UInt8(truncatingIfNeeded: $0.rcode.rawValue) },
                        answers: reply?.answers.count { $0.type == type } ?? 0))
                let status = reply.map { "\($0.rcode)" } ?? "no answer"
                print("   \(type): \(status)")
                for record in reply?.answers ?? [] {
                    print("     \(record.name) \(record.ttl) \(record.type) \(describe(record.data))")
                }
            }
            let verdict = plan.verdict(responses)
            switch verdict {
            case .found:
                print("   → found")
                answered = true
            case .next:
                print("   → \(library) tries the next name")
            case .stop:
                print("   → \(library) stops here")
            }
            if verdict != .next { break }
        }
        if !answered { throw ExitCode(2) }
    }

    /// Nil when the server did not answer in time.
    func ask(_ forwarder: Forwarder<NIOUpstreamExchanger>, _ name: String, _ type: RecordType) async -> Message? {
        guard let dnsName = try? DNSName(name) else { return nil }
        return try? await forwarder.forward(.query(id: UInt16.random(in: 0...UInt16.max), name: dnsName, type: type))
    }

    func describe(_ data: RData) -> String {
        switch data {
        case .a(let ip), .aaaa(let ip): return "\(ip)"
        case .cname(let name), .ptr(let name), .ns(let name): return "\(name)"
        case .srv(let srv): return "\(srv.priority) \(srv.weight) \(srv.port) \(srv.target)"
        default: return "(\(data.type))"
        }
    }
}

extension ResolvConf.Library: ExpressibleByArgument {}
