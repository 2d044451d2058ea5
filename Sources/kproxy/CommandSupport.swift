import ArgumentParser
import ClusterModel
import Daemon
import Foundation

/// What several subcommands read the same way, with the same error wording.
enum CommandSupport {
    /// The config file's settings, or the defaults without one; a bad file fails with every field path.
    static func configuration(file: String?) throws -> Configuration {
        guard let file else { return Configuration() }
        do {
            return try Configuration.load(file: file)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The manifests of `directory` as the model of `nodeName`; each broken document is printed to
    /// standard error, and the result says whether there were any.
    static func loadManifests(_ directory: String, nodeName: String) throws -> (snapshot: ClusterSnapshot, hadErrors: Bool) {
        let load: ManifestLoad
        do {
            load = try ManifestLoader.load(directory: directory)
        } catch {
            throw ValidationError(error.description)
        }
        for error in load.errors {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        }
        var state = ClusterState(nodeName: nodeName)
        state.apply(load.events)
        return (state.snapshot, !load.errors.isEmpty)
    }
}
