import CNetfilter
import CNetfilterShims
import RuleSynth

/// A ``Transaction`` encoded as one nftables netlink batch: `NFNL_MSG_BATCH_BEGIN`, one message per table,
/// chain, set, rule or element chunk (each with `NLM_F_ACK`), then `NFNL_MSG_BATCH_END`.
///
/// Building is pure: the bytes are exactly what ``NetfilterClient/apply(_:)`` sends, so tests inspect them
/// without a kernel, the way swift-nio tests handlers on `EmbeddedChannel`. The kernel applies the whole
/// batch or none of it; every message's sequence number maps back to the operation that produced it, so a
/// kernel error names its object (`add rule ip kproxy service-…: Invalid argument`).
public struct NetlinkBatch: Sendable {
    /// The batch, ready for one `sendmsg`; kept in one allocation, not copied into an array (a 10k-Service
    /// full sync is ~45 MB).
    private let storage: BatchStorage
    /// The batch's bytes, copied out for inspection.
    public var bytes: [UInt8] { [UInt8](storage.buffer) }
    /// Its size in bytes.
    public var count: Int { storage.buffer.count }
    /// Sequence number of `BATCH_BEGIN`; object messages follow at `firstSequence + 1 …`.
    public let firstSequence: UInt32
    /// One entry per object message, in order; each acknowledges with its own sequence number.
    public let messages: [Message]
    /// The transaction these bytes encode, kept to describe failed messages.
    public let transaction: Transaction

    /// What one object message carries: its operation, and for element chunks which elements.
    public struct Message: Hashable, Sendable {
        public var sequence: UInt32
        /// Index into ``transaction``'s operations.
        public var operation: Int
        /// For element messages: the range of the operation's elements this message carries.
        public var elements: Range<Int>?
    }

    /// Sequence number of `BATCH_END`.
    public var lastSequence: UInt32 { firstSequence &+ UInt32(messages.count) &+ 1 }

    /// Encodes `transaction`; throws ``NetfilterError/invalid(_:)`` for values the kernel cannot carry
    /// (an over-long comment, a key part that does not fit), naming the operation.
    public init(_ transaction: Transaction, firstSequence: UInt32 = 1) throws(NetfilterError) {
        // Roughly 400 bytes per operation: one allocation for most batches instead of repeated doubling.
        let capacity = max(1 << 16, transaction.operations.count * 400)
        var encoder = BatchEncoder(firstSequence: firstSequence, capacity: capacity)
        encoder.begin()
        for (index, operation) in transaction.operations.enumerated() {
            do {
                try encoder.encode(operation, index: index)
            } catch {
                throw .invalid("\(Self.describe(operation)): \(error.reason)")
            }
        }
        encoder.end()
        self.messages = encoder.messages
        self.storage = encoder.finish()
        self.firstSequence = firstSequence
        self.transaction = transaction
    }

    /// Calls `body` with the bytes in place.
    func withUnsafeBytes<Result>(
        _ body: (UnsafeRawBufferPointer) throws(NetfilterError) -> Result
    ) throws(NetfilterError) -> Result {
        try body(storage.buffer)
    }

    /// The message acknowledged with `sequence`, if it is one of this batch's objects.
    public func message(sequence: UInt32) -> Message? {
        // Wrapping arithmetic: sequence numbers may wrap around UInt32 within a batch.
        let index = Int(sequence &- firstSequence &- 1)
        guard messages.indices.contains(index) else { return nil }
        return messages[index]
    }

    /// nft-style name of what a message did, e.g. `add rule ip kproxy services`.
    public func describe(_ message: Message) -> String {
        let operation = transaction.operations[message.operation]
        var text = Self.describe(operation)
        if let range = message.elements, case .addElements(_, _, _, let elements) = operation {
            text += Self.describeElements(elements[range], count: elements.count, range: range)
        } else if let range = message.elements, case .deleteElements(_, _, _, let elements) = operation {
            text += Self.describeElements(elements[range], count: elements.count, range: range)
        }
        return text
    }

    private static func describeElements(_ elements: ArraySlice<SetElement>, count: Int, range: Range<Int>) -> String {
        if elements.count == 1, let element = elements.first {
            return " { " + element.key.map(\.description).joined(separator: " . ") + " }"
        }
        return " (elements \(range.lowerBound + 1)–\(range.upperBound) of \(count))"
    }

    static func describe(_ operation: Transaction.Operation) -> String {
        switch operation {
        case .addTable(let family, let table, _): return "add table \(family) \(table)"
        case .deleteTable(let family, let table): return "delete table \(family) \(table)"
        case .addChain(let family, let table, let chain): return "add chain \(family) \(table) \(chain.name)"
        case .flushChain(let family, let table, let chain): return "flush chain \(family) \(table) \(chain)"
        case .deleteChain(let family, let table, let chain): return "delete chain \(family) \(table) \(chain)"
        case .addRule(let family, let table, let chain, let rule):
            var text = "add rule \(family) \(table) \(chain)"
            if let comment = rule.comment { text += " comment \"\(comment)\"" }
            return text
        case .addSet(let family, let table, let set):
            return "add \(set.isMap ? "map" : "set") \(family) \(table) \(set.name)"
        case .flushSet(let family, let table, let set, let isMap):
            return "flush \(isMap ? "map" : "set") \(family) \(table) \(set)"
        case .deleteSet(let family, let table, let set, let isMap):
            return "delete \(isMap ? "map" : "set") \(family) \(table) \(set)"
        case .addElements(let family, let table, let set, _): return "add element \(family) \(table) \(set)"
        case .deleteElements(let family, let table, let set, _): return "delete element \(family) \(table) \(set)"
        }
    }
}

/// Owns a finished batch's bytes; immutable, so sharing it between threads is safe.
final class BatchStorage: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    deinit { buffer.deallocate() }
}

/// Why a value could not be encoded; wrapped with the operation's name by ``NetlinkBatch``.
struct EncodingError: Error {
    var reason: String
}

/// Writes netlink messages into one growing buffer. Each message reserves an upper bound of its size first,
/// because libnftnl's builders write attributes without bounds checks.
struct BatchEncoder: ~Copyable {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var count = 0
    private var sequence: UInt32
    private(set) var messages: [NetlinkBatch.Message] = []
    /// Single-key interval sets declared in this batch: their elements are ranges, opened as nft opens them.
    var intervalSetsDeclared: Set<SetName> = []
    /// `NFTA_SET_ID` of the last set declared in this batch.
    var nextSetID: UInt32 = 0

    init(firstSequence: UInt32, capacity: Int = 1 << 16) {
        self.sequence = firstSequence
        self.capacity = capacity
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
    }

    /// Set once ``finish()`` has handed `storage` over.
    private var transferred = false

    deinit { if !transferred { storage.deallocate() } }

    private mutating func reserve(_ bytes: Int) {
        guard count + bytes > capacity else { return }
        var newCapacity = capacity * 2
        while count + bytes > newCapacity { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        grown.copyMemory(from: storage, byteCount: count)
        storage.deallocate()
        storage = grown
        capacity = newCapacity
    }

    /// Starts a message of `type` with at most `bound` bytes, lets `build` fill it, and records it.
    mutating func message(
        _ type: nf_tables_msg_types,
        family: UInt16,
        flags: Int32,
        bound: Int,
        operation: Int,
        elements: Range<Int>? = nil,
        _ build: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) {
        reserve(bound)
        sequence &+= 1
        let header = nftnl_nlmsg_build_hdr(
            (storage + count).assumingMemoryBound(to: CChar.self),
            UInt16(type.rawValue),
            family,
            UInt16(truncatingIfNeeded: flags | NLM_F_ACK),
            sequence
        )!
        build(header)
        precondition(Int(header.pointee.nlmsg_len) <= bound, "netlink message overran its reserved bound")
        count += Int(CNetfilter_NLMSG_ALIGN(header.pointee.nlmsg_len))
        messages.append(NetlinkBatch.Message(sequence: sequence, operation: operation, elements: elements))
    }

    mutating func begin() {
        reserve(64)
        let header = nftnl_batch_begin((storage + count).assumingMemoryBound(to: CChar.self), sequence)!
        count += Int(CNetfilter_NLMSG_ALIGN(header.pointee.nlmsg_len))
    }

    mutating func end() {
        reserve(64)
        let header = nftnl_batch_end((storage + count).assumingMemoryBound(to: CChar.self), sequence &+ 1)!
        count += Int(CNetfilter_NLMSG_ALIGN(header.pointee.nlmsg_len))
    }

    /// Hands the buffer to a ``BatchStorage`` without copying it.
    consuming func finish() -> BatchStorage {
        transferred = true
        return BatchStorage(UnsafeRawBufferPointer(start: storage, count: count))
    }
}
