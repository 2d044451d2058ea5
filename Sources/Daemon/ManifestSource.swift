import ClusterModel
import Foundation
import Logging

/// Feeds the model from a directory of manifests, re-reading it whenever its files change.
///
/// A reload that has any broken document is not applied at all: dropping the objects of a half-edited
/// file would delete their Services from the kernel, and a typo must never cause an outage. The first load
/// applies what is valid, since there is nothing older to keep.
public struct ManifestSource: Sendable {
    public let directory: String
    public let pollInterval: Duration
    let logger: Logger

    public init(directory: String, pollInterval: Duration = .seconds(1), logger: Logger) {
        self.directory = directory
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Batches of events, one per successful (re)load; the first one is the initial load.
    public func events() -> AsyncStream<[ClusterEvent]> {
        AsyncStream { continuation in
            let task = Task {
                var fingerprint: [String] = []
                var loadedOnce = false
                while !Task.isCancelled {
                    let current = Self.fingerprint(of: directory)
                    if current != fingerprint {
                        fingerprint = current
                        if let events = reload(first: !loadedOnce) {
                            loadedOnce = true
                            continuation.yield(events)
                        }
                    }
                    try? await Task.sleep(for: pollInterval)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func reload(first: Bool) -> [ClusterEvent]? {
        let load: ManifestLoad
        do {
            load = try ManifestLoader.load(directory: directory)
        } catch {
            logger.error("cannot read manifests", metadata: ["error": "\(error)"])
            return nil
        }
        for error in load.errors {
            logger.error("invalid manifest", metadata: ["error": "\(error)"])
        }
        if !load.errors.isEmpty && !first {
            logger.warning("manifests not reloaded: fix the errors above; the previous state stays in force",
                           metadata: ["directory": "\(directory)"])
            return nil
        }
        logger.info("manifests loaded", metadata: ["directory": "\(directory)", "objects": "\(load.objects.count)"])
        return load.events
    }

    /// Paths, sizes and modification times: cheap to take every second, and any edit changes it.
    static func fingerprint(of directory: String) -> [String] {
        let url = URL(fileURLWithPath: directory)
        guard let enumerator = FileManager.default.enumerator(
            at: url, includingPropertiesForKeys: [.contentModificationDateKey, .fileSizeKey])
        else { return [] }
        var entries: [String] = []
        for case let file as URL in enumerator {
            let values = try? file.resourceValues(forKeys: [.contentModificationDateKey, .fileSizeKey])
            let modified = values?.contentModificationDate?.timeIntervalSince1970 ?? 0
            entries.append("\(file.path)|\(values?.fileSize ?? -1)|\(modified)")
        }
        return entries.sorted()
    }
}

extension ManifestSource {
    /// The source's reloads as sync-loop updates: a manifest directory is complete as soon as it is read.
    public func updates() -> AsyncStream<SourceUpdate> {
        let events = events()
        return AsyncStream { continuation in
            let task = Task {
                for await batch in events { continuation.yield(SourceUpdate(events: batch, synced: true)) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
