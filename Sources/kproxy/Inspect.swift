import ArgumentParser
import ClusterModel
import Foundation
import KubeModel

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the cluster model: Service ports, their addresses and policies, and their endpoints.")

    @Option(help: "Read the cluster from this directory of YAML/JSON manifests.")
    var manifests: String

    @Option(help: "The node kproxy runs on; decides which endpoints are local.")
    var node: String = "node-a"

    func run() throws {
        let load: ManifestLoad
        do {
            load = try ManifestLoader.load(directory: manifests)
        } catch {
            throw ValidationError(error.description)
        }
        for error in load.errors {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        }
        var state = ClusterState(nodeName: node)
        state.apply(load.events)
        print(ModelReport.render(state.snapshot), terminator: "")
        if !load.errors.isEmpty { throw ExitCode(1) }
    }
}
