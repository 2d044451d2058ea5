import NIOCore

/// Cuts a watch response into its events as the bytes arrive.
///
/// kube-apiserver writes each watch event as one JSON document followed by `\n` (its JSON serializer's
/// framing), so an event is complete exactly when its newline arrives. Only the unfinished tail is held,
/// never the whole stream; a tail larger than ``maximumEventSize`` is an error rather than unbounded memory.
public struct WatchStreamSplitter: Sendable {
    public enum Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// One event grew past the limit without a newline (garbage or a hostile server).
        case eventTooLarge(limit: Int)
        /// The stream ended in the middle of an event.
        case truncated(bytes: Int)

        public var description: String {
            switch self {
            case .eventTooLarge(let limit): return "a watch event exceeded \(limit) bytes without ending"
            case .truncated(let bytes): return "the watch stream ended inside an event (\(bytes) bytes unfinished)"
            }
        }
    }

    /// A generous cap: the largest object etcd stores is 1.5 MiB by default; JSON and envelope add little.
    public static let defaultMaximumEventSize = 16 << 20

    public let maximumEventSize: Int
    var pending = ByteBuffer()

    public init(maximumEventSize: Int = WatchStreamSplitter.defaultMaximumEventSize) {
        self.maximumEventSize = maximumEventSize
    }

    /// Appends a chunk and returns every event it completed, in order (blank lines are skipped).
    public mutating func append(_ chunk: ByteBuffer) throws(Failure) -> [ByteBuffer] {
        var chunk = chunk
        var events: [ByteBuffer] = []
        while let newline = chunk.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - chunk.readerIndex
            var piece = chunk.readSlice(length: length)!
            chunk.moveReaderIndex(forwardBy: 1)
            if pending.readableBytes > 0 {
                pending.writeBuffer(&piece)
                piece = pending
                pending = ByteBuffer()
            }
            if piece.readableBytes > maximumEventSize { throw .eventTooLarge(limit: maximumEventSize) }
            if piece.readableBytesView.contains(where: { !WatchStreamSplitter.isBlank($0) }) { events.append(piece) }
        }
        if chunk.readableBytes > 0 {
            pending.writeBuffer(&chunk)
            if pending.readableBytes > maximumEventSize { throw .eventTooLarge(limit: maximumEventSize) }
        }
        return events
    }

    /// Call when the stream ends: a clean end leaves nothing but whitespace behind.
    public func finish() throws(Failure) {
        if pending.readableBytesView.contains(where: { !WatchStreamSplitter.isBlank($0) }) {
            throw .truncated(bytes: pending.readableBytes)
        }
    }

    static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
    }
}
