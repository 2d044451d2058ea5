import Foundation
import KubeModel
import Yams

/// A manifest document that could not be used, located by file, document index and field path.
public struct ManifestError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    /// Zero-based index of the YAML document in the file (and `items[i]` inside a `List` is in `path`).
    public var document: Int?
    public var detail: String

    public init(file: String, document: Int?, detail: String) {
        self.file = file
        self.document = document
        self.detail = detail
    }

    public var description: String {
        document.map { "\(file): document \($0): \(detail)" } ?? "\(file): \(detail)"
    }
}

/// What a manifest directory yielded: the usable objects, and an error for each document that was not.
public struct ManifestLoad: Sendable {
    public var objects: [ClusterObject] = []
    public var errors: [ManifestError] = []

    public var events: [ClusterEvent] {
        ResourceKind.allCases.map { kind in .replaceAll(kind, objects.filter { $0.kind == kind }) }
    }
}

/// Reads Services, EndpointSlices (v1 and v1beta1), Nodes and Pods from YAML or JSON manifests.
///
/// Other kinds are skipped silently, so a directory can hold a whole application's manifests.
public enum ManifestLoader {
    /// Files larger than this are refused rather than parsed; no real manifest comes near it.
    public static let maximumFileSize = 64 << 20

    /// Loads every `.yaml`, `.yml` and `.json` file below `directory`, in name order.
    public static func load(directory: String) throws(ManifestError) -> ManifestLoad {
        let url = URL(fileURLWithPath: directory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ManifestError(file: directory, document: nil, detail: "is not a readable directory")
        }
        guard let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil) else {
            throw ManifestError(file: directory, document: nil, detail: "cannot be listed")
        }
        var files: [String] = []
        for case let file as URL in enumerator where ["yaml", "yml", "json"].contains(file.pathExtension.lowercased()) {
            files.append(file.path)
        }
        var result = ManifestLoad()
        for file in files.sorted() {
            let loaded = load(file: file)
            result.objects += loaded.objects
            result.errors += loaded.errors
        }
        return result
    }

    public static func load(file: String) -> ManifestLoad {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
            let size = attributes[.size] as? Int
        else {
            return ManifestLoad(errors: [ManifestError(file: file, document: nil, detail: "cannot be read")])
        }
        guard size <= maximumFileSize else {
            return ManifestLoad(errors: [
                ManifestError(file: file, document: nil, detail: "is \(size) bytes, over the \(maximumFileSize)-byte limit")
            ])
        }
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
        else {
            return ManifestLoad(errors: [ManifestError(file: file, document: nil, detail: "is not UTF-8 text")])
        }
        return parse(text, file: file)
    }

    /// Parses one file's text; YAML and JSON alike, multi-document, with `kind: List` expanded.
    public static func parse(_ text: String, file: String) -> ManifestLoad {
        var result = ManifestLoad()
        let documents: YamlSequence<Yams.Node>
        do {
            documents = try Yams.compose_all(yaml: text)
        } catch {
            result.errors.append(ManifestError(file: file, document: nil, detail: describe(yamlError: error)))
            return result
        }
        var iterator = documents.makeIterator()
        var index = 0
        while let document = iterator.next() {
            collect(document, path: "", file: file, index: index, into: &result)
            index += 1
        }
        if let error = iterator.error {
            result.errors.append(ManifestError(file: file, document: index, detail: describe(yamlError: error)))
        }
        return result
    }

    static func collect(_ node: Yams.Node, path: String, file: String, index: Int, into result: inout ManifestLoad) {
        guard case .mapping = node else {
            if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "null" || scalar.string == "~" { return }
            result.errors.append(ManifestError(file: file, document: index, detail: "\(path)is not an object"))
            return
        }
        let kind = node["kind"]?.string ?? ""
        let apiVersion = node["apiVersion"]?.string ?? ""
        let decoder = YAMLDecoder()
        func decoded<T: Decodable>(_ type: T.Type) -> T? {
            do {
                return try decoder.decode(T.self, from: node)
            } catch {
                let name = objectName(node)
                let detail = ObjectDecodingError(error, object: name).description
                result.errors.append(ManifestError(file: file, document: index, detail: path + detail))
                return nil
            }
        }
        switch (kind, apiVersion) {
        case (let list, _) where list.hasSuffix("List"):
            guard case .sequence(let items)? = node["items"] else { return }
            for (itemIndex, item) in items.enumerated() {
                collect(item, path: "\(path)items[\(itemIndex)]: ", file: file, index: index, into: &result)
            }
        case ("Service", "v1"):
            if let object = decoded(Service.self) { result.objects.append(.service(object)) }
        case ("EndpointSlice", "discovery.k8s.io/v1"), ("EndpointSlice", "discovery.k8s.io/v1beta1"):
            if let object = decoded(EndpointSlice.self) { result.objects.append(.endpointSlice(object)) }
        case ("Node", "v1"):
            if let object = decoded(Node.self) { result.objects.append(.node(object)) }
        case ("Pod", "v1"):
            if let object = decoded(Pod.self) { result.objects.append(.pod(object)) }
        case ("", _):
            result.errors.append(ManifestError(file: file, document: index, detail: "\(path)kind: is required"))
        default:
            break
        }
    }

    static func objectName(_ node: Yams.Node) -> String? {
        guard let name = node["metadata"]?["name"]?.string else { return nil }
        return node["metadata"]?["namespace"]?.string.map { "\($0)/\(name)" } ?? name
    }

    static func describe(yamlError error: any Error) -> String {
        if let yamlError = error as? YamlError { return "invalid YAML: \(yamlError)" }
        return "invalid YAML: \(error)"
    }
}
