/// Cache of forwarded responses, bounded in entries with least-recently-used eviction.
///
/// A value type with the clock passed in, so tests control time; ``ForwardingResponder`` holds it under a
/// lock. Keys fold case (a 0x20-randomised repeat still hits). Truncated answers, answers without a TTL and
/// failures are never stored, as a partial or transient answer must not be served again (coredns#3391).
public struct ResponseCache: Sendable {
    public struct Limits: Sendable, Hashable {
        public var capacity: Int
        /// Cap on how long a positive answer is kept, whatever its TTLs say.
        public var maxPositiveTTL: UInt32
        /// Cap on NXDOMAIN/NODATA, whose TTL comes from the SOA (RFC 2308 §5).
        public var maxNegativeTTL: UInt32

        public init(capacity: Int = 10_000, maxPositiveTTL: UInt32 = 3600, maxNegativeTTL: UInt32 = 300) {
            self.capacity = max(1, capacity)
            self.maxPositiveTTL = maxPositiveTTL
            self.maxNegativeTTL = maxNegativeTTL
        }
    }

    struct Key: Hashable, Sendable {
        var name: DNSName
        var type: RecordType
        var recordClass: RecordClass
        var dnssecOK: Bool
    }

    struct Entry: Sendable {
        var response: Message
        var stored: ContinuousClock.Instant
        var expires: ContinuousClock.Instant
    }

    public let limits: Limits
    private var lru = LRUMap<Key, Entry>()

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public var count: Int { lru.count }

    static func key(for query: Message) -> Key? {
        guard let question = query.question else { return nil }
        return Key(
            name: question.name,
            type: question.type,
            recordClass: question.questionClass,
            dnssecOK: query.edns?.dnssecOK ?? false
        )
    }

    /// The cached answer to `query` with TTLs aged by the time spent in the cache, and the query's ID and
    /// name case; nil when absent or expired.
    public mutating func lookup(_ query: Message, now: ContinuousClock.Instant) -> Message? {
        guard let key = Self.key(for: query), let entry = lru[key] else { return nil }
        guard now < entry.expires else {
            lru.removeValue(forKey: key)
            return nil
        }
        let elapsed = UInt32(clamping: (now - entry.stored).components.seconds)
        var response = entry.response
        func age(_ records: inout [ResourceRecord]) {
            for index in records.indices {
                records[index].ttl = records[index].ttl > elapsed ? records[index].ttl - elapsed : 0
            }
        }
        age(&response.answers)
        age(&response.authorities)
        age(&response.additionals)
        return Self.adapt(response, to: query)
    }

    /// `response`, which answered the same name in some other case, as an answer to `query`: its ID, its
    /// question, and owner names spelled as the query spells them.
    static func adapt(_ response: Message, to query: Message) -> Message {
        var response = response
        response.id = query.id
        response.questions = query.questions
        guard let asked = query.question?.name else { return response }
        func respell(_ records: inout [ResourceRecord]) {
            for index in records.indices where records[index].name == asked { records[index].name = asked }
        }
        respell(&response.answers)
        respell(&response.authorities)
        respell(&response.additionals)
        return response
    }

    /// Stores `response` to `query` if it is cacheable, for its smallest TTL (positive) or the SOA's
    /// negative TTL, within ``Limits``.
    public mutating func store(_ response: Message, for query: Message, now: ContinuousClock.Instant) {
        guard let key = Self.key(for: query), let ttl = Self.cacheTTL(response, limits: limits), ttl > 0 else { return }
        var stored = response
        func cap(_ records: inout [ResourceRecord]) {
            for index in records.indices { records[index].ttl = min(records[index].ttl, ttl) }
        }
        cap(&stored.answers)
        cap(&stored.authorities)
        cap(&stored.additionals)
        let entry = Entry(response: stored, stored: now, expires: now + .seconds(Int(ttl)))
        lru[key] = entry
        while lru.count > limits.capacity { lru.removeLeastRecentlyUsed() }
    }

    /// How long `response` may be cached, nil if never.
    static func cacheTTL(_ response: Message, limits: Limits) -> UInt32? {
        guard !response.isTruncated else { return nil }
        switch response.rcode {
        case .noError where !response.answers.isEmpty:
            let ttl = response.answers.map(\.ttl).min() ?? 0
            return min(ttl, limits.maxPositiveTTL)
        case .noError, .nameError:
            // RFC 2308 §5: the negative TTL is the SOA record's own TTL bounded by its MINIMUM field; without
            // an SOA the answer may not be cached at all.
            for record in response.authorities {
                if case .soa(let soa) = record.data { return min(record.ttl, soa.minimum, limits.maxNegativeTTL) }
            }
            return nil
        default:
            return nil
        }
    }
}

/// A dictionary that remembers use order, with O(1) lookup, update and eviction.
///
/// Nodes live in an array and link by index, so the structure is a value type with no per-entry object.
struct LRUMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Node: Sendable {
        var key: Key
        var value: Value
        var newer: Int
        var older: Int
    }

    private var index: [Key: Int] = [:]
    private var nodes: [Node] = []
    private var free: [Int] = []
    /// Most and least recently used node, -1 when empty.
    private var newest = -1
    private var oldest = -1

    var count: Int { index.count }

    subscript(key: Key) -> Value? {
        mutating get {
            guard let slot = index[key] else { return nil }
            touch(slot)
            return nodes[slot].value
        }
        set {
            if let newValue { set(newValue, for: key) } else { removeValue(forKey: key) }
        }
    }

    private mutating func set(_ value: Value, for key: Key) {
        if let slot = index[key] {
            nodes[slot].value = value
            touch(slot)
            return
        }
        let node = Node(key: key, value: value, newer: -1, older: newest)
        let slot: Int
        if let reused = free.popLast() {
            nodes[reused] = node
            slot = reused
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        if newest >= 0 { nodes[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
        index[key] = slot
    }

    mutating func removeValue(forKey key: Key) {
        guard let slot = index.removeValue(forKey: key) else { return }
        unlink(slot)
        free.append(slot)
    }

    mutating func removeLeastRecentlyUsed() {
        guard oldest >= 0 else { return }
        removeValue(forKey: nodes[oldest].key)
    }

    private mutating func touch(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        nodes[slot].older = newest
        nodes[slot].newer = -1
        if newest >= 0 { nodes[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (nodes[slot].newer, nodes[slot].older)
        if newer >= 0 { nodes[newer].older = older } else { newest = older }
        if older >= 0 { nodes[older].newer = newer } else { oldest = newer }
        nodes[slot].newer = -1
        nodes[slot].older = -1
    }
}
