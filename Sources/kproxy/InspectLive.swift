import ArgumentParser
import ClusterModel
import Foundation
import KubeClient
import Logging

/// How `kproxy inspect` reaches a live API server.
struct LiveClusterOptions: ParsableArguments {
    @Option(help: "Read the connection from this kubeconfig instead of the in-cluster config.")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use instead of current-context.")
    var context: String?

    @Option(help: "The ServiceAccount directory (token, ca.crt, namespace) of the in-cluster config.")
    var serviceaccountDir: String = ConnectionConfig.defaultServiceAccountDir

    @Option(help: "The API server URL (https://host:port); overrides the kubeconfig or KUBERNETES_SERVICE_HOST/PORT.")
    var server: String?

    @Option(help: "Read the bearer token from this file; overrides the kubeconfig or ServiceAccount token.")
    var tokenFile: String?

    @Option(help: "Verify the API server against this CA bundle; overrides the kubeconfig or ca.crt.")
    var certificateAuthority: String?

    @Flag(help: "Also watch the Pods on --node (needs the pods rule of deploy/rbac.yaml).")
    var pods = false

    @Flag(help: "Keep running and print each change after the first full model.")
    var watch = false

    @Flag(help: "Log the client's progress to standard error.")
    var verbose = false

    /// Precedence: flags, then the kubeconfig (if given), then the in-cluster config.
    func connectionConfig() throws(ConfigError) -> ConnectionConfig {
        let base: ConnectionConfig
        if let kubeconfig {
            base = try ConnectionConfig.kubeconfig(path: kubeconfig, context: context)
        } else {
            base = try ConnectionConfig.inCluster(serviceAccountDir: serviceaccountDir)
        }
        return try base.applying(
            ConnectionOverrides(server: server, tokenFile: tokenFile, certificateAuthorityFile: certificateAuthority))
    }
}

extension Inspect {
    func inspectLiveCluster() async throws {
        let config: ConnectionConfig
        do {
            config = try live.connectionConfig()
        } catch {
            throw Inspect.fail(error.description)
        }
        var logger = Logger(label: "kproxy.inspect") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = live.verbose ? .debug : .critical
        let client: KubeClient
        do {
            client = try KubeClient(config: config, logger: logger)
        } catch {
            throw Inspect.fail(error.description)
        }
        var state = ClusterState(nodeName: node)
        var synced = false
        for await update in client.clusterUpdates(ClusterWatch(nodeName: node, includePods: live.pods)) {
            switch update {
            case .problem(let error, let resource):
                let scope = resource.map { " (\($0.rawValue)s)" } ?? ""
                FileHandle.standardError.write(Data("error\(scope): \(error); retrying\n".utf8))
            case .skipped(let object):
                FileHandle.standardError.write(Data("skipped \(object.kind.rawValue) \(object.problem)\n".utf8))
            case .events(let events):
                state.apply(events)
                let changes = state.takeChanges()
                if synced, !changes.isEmpty {
                    FileHandle.standardOutput.write(Data(ModelReport.renderChanges(state.snapshot, changes).utf8))
                }
            case .synced:
                synced = true
                // Unbuffered, so `--watch` output reaches a pipe as it happens.
                FileHandle.standardOutput.write(Data(ModelReport.render(state.snapshot).utf8))
                if !live.watch {
                    await client.shutdown()
                    return
                }
            }
        }
        await client.shutdown()
    }
}

extension Inspect {
    /// A configuration problem: the message alone (it names file and field), without the usage text.
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(2)
    }
}

extension ModelReport {
    /// For `inspect --watch`: what one batch of events changed, each Service printed in full.
    static func renderChanges(_ snapshot: ClusterSnapshot, _ changes: ChangeSet) -> String {
        let keys = changes.services.union(changes.servicePorts.map(\.service))
        var out = "\n--- \(Date())\n"
        if changes.nodeChanged { out += String(render(snapshot).prefix { $0 != "\n" }) + "\n" }
        for key in keys.sorted() {
            if snapshot.services[key] == nil {
                out += "\nservice \(key) deleted\n"
            } else {
                out += render(snapshot, only: [key]).drop { $0 != "\n" }.dropFirst()
            }
        }
        return out
    }
}
