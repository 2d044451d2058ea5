/// One event of a watch stream (`{"type": ..., "object": ...}`).
///
/// Decoding looks at `type` first: a BOOKMARK carries only `metadata.resourceVersion` and an ERROR carries a
/// ``Status``, so neither can be decoded as the watched kind.
public enum WatchEvent<Object: Decodable & Sendable>: Decodable, Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    case bookmark(resourceVersion: String)
    case error(Status)

    enum CodingKeys: String, CodingKey { case type, object }
    enum EventType: String, Decodable, CaseIterable {
        case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK", error = "ERROR"
    }
    struct BookmarkObject: Decodable { var metadata: ListMeta }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let type = try c.decodeChoice(EventType.self, forKey: .type) else {
            throw DecodingError.keyNotFound(
                CodingKeys.type, .init(codingPath: c.codingPath, debugDescription: "type is required"))
        }
        switch type {
        case .added: self = .added(try c.decode(Object.self, forKey: .object))
        case .modified: self = .modified(try c.decode(Object.self, forKey: .object))
        case .deleted: self = .deleted(try c.decode(Object.self, forKey: .object))
        case .error: self = .error(try c.decode(Status.self, forKey: .object))
        case .bookmark:
            let object = try c.decode(BookmarkObject.self, forKey: .object)
            self = .bookmark(resourceVersion: object.metadata.resourceVersion ?? "")
        }
    }
}

/// The API's error envelope (`kind: Status`), in list responses, error bodies and ERROR watch events.
public struct Status: Decodable, Hashable, Sendable, Error, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public var message: String

    public init(code: Int, reason: String, message: String) {
        self.code = code
        self.reason = reason
        self.message = message
    }

    enum CodingKeys: String, CodingKey { case code, reason, message }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = try c.decodeIfPresent(Int.self, forKey: .code) ?? 0
        reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
        message = try c.decodeIfPresent(String.self, forKey: .message) ?? ""
    }

    /// 410 Gone / Expired: the resourceVersion was compacted away and the client must re-list.
    public var isExpired: Bool { code == 410 || reason == "Expired" || reason == "Gone" }

    public var description: String { "\(code) \(reason): \(message)" }
}

/// A list response (`ServiceList`, `EndpointSliceList`, ...).
public struct ObjectList<Item: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [Item]

    enum CodingKeys: String, CodingKey { case metadata, items }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try c.decodeIfPresent([Item].self, forKey: .items) ?? []
    }
}

