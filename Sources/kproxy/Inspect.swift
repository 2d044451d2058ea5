import ArgumentParser
import ClusterModel
import Foundation
import KubeModel

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the cluster model: Service ports, their addresses and policies, and their endpoints.",
        discussion: """
            Without --manifests, reads a live cluster: from --kubeconfig FILE, or else the in-cluster config \
            (KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount directory). --server, --token-file and \
            --certificate-authority override what the kubeconfig or the ServiceAccount directory says. \
            It prints the model once every resource has been listed and exits 0; errors are printed as \
            they are retried.
            """)

    @Option(help: "Read the cluster from this directory of YAML/JSON manifests instead of an API server.")
    var manifests: String?

    @Option(help: "The node kproxy runs on; decides which endpoints are local.")
    var node: String = "node-a"

    @OptionGroup var live: LiveClusterOptions

    func run() async throws {
        guard let manifests else {
            try await inspectLiveCluster()
            return
        }
        try inspectManifests(manifests)
    }

    func inspectManifests(_ manifests: String) throws {
        let (snapshot, hadErrors) = try CommandSupport.loadManifests(manifests, nodeName: node)
        print(ModelReport.render(snapshot), terminator: "")
        if hadErrors { throw ExitCode(1) }
    }
}
