import Foundation

/// A decoding failure that names the object and the field, e.g.
/// `default/web: spec.ports[2].port: 70000 is not a valid port`.
public struct ObjectDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `namespace/name` when the metadata could be read; nil for objects too broken to name.
    public var object: String?
    /// Dotted field path with array indices, empty for the whole document.
    public var path: String
    public var message: String

    public init(object: String?, path: String, message: String) {
        self.object = object
        self.path = path
        self.message = message
    }

    public var description: String {
        [object, path.isEmpty ? nil : path, message].compactMap { $0 }.joined(separator: ": ")
    }

    /// Translates Foundation's `DecodingError` into kproxy's wording.
    ///
    /// - Parameter base: where the object sits in its document (e.g. `items[3]` of a list, `object` of a
    ///   watch event); dropped from the path, which is then the object's own field path.
    public init(_ error: any Error, object: String?, relativeTo base: [any CodingKey] = []) {
        self.init(translating: error, object: object)
        let prefix = ObjectDecodingError.format(base)
        if !prefix.isEmpty, path.hasPrefix(prefix) {
            path = String(path.dropFirst(prefix.count).drop { $0 == "." })
        }
    }

    private init(translating error: any Error, object: String?) {
        self.object = object
        guard let decodingError = error as? DecodingError else {
            path = ""
            message = String(describing: error)
            return
        }
        switch decodingError {
        case .keyNotFound(let key, let context):
            path = ObjectDecodingError.format(context.codingPath + [key])
            message = "is required"
        case .valueNotFound(_, let context):
            path = ObjectDecodingError.format(context.codingPath)
            message = "must not be null"
        case .typeMismatch(let type, let context):
            path = ObjectDecodingError.format(context.codingPath)
            message = "expected \(ObjectDecodingError.describe(type))"
        case .dataCorrupted(let context):
            path = ObjectDecodingError.format(context.codingPath)
            if let underlying = context.underlyingError {
                message = "\(context.debugDescription) (\(underlying.localizedDescription))"
            } else {
                message = context.debugDescription
            }
        @unknown default:
            path = ""
            message = String(describing: decodingError)
        }
    }

    static func format(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is UInt16.Type, is Int32.Type: return "an integer"
        case is [String: String].Type: return "a map of strings"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }
}

/// Decodes API objects from JSON with errors that name the object, and never traps.
public enum KubeDecoder {
    struct MetadataOnly: Decodable {
        struct Meta: Decodable {
            var name: String?
            var namespace: String?
        }
        var metadata: Meta?
    }

    public static func decode<T: Decodable>(_ type: T.Type, fromJSON data: Data) throws(ObjectDecodingError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw ObjectDecodingError(error, object: objectName(inJSON: data))
        }
    }

    /// The `namespace/name` of a document, if that much of it is readable.
    public static func objectName(inJSON data: Data) -> String? {
        guard let meta = try? JSONDecoder().decode(MetadataOnly.self, from: data).metadata, let name = meta.name
        else { return nil }
        return meta.namespace.map { "\($0)/\(name)" } ?? name
    }
}
