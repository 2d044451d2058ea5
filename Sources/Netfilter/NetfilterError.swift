import Glibc

/// Everything that can go wrong programming nftables, phrased so an operator knows which object failed.
public enum NetfilterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kernel refused the batch; nothing in it was applied. One entry per message it refused.
    case rejected([Rejection])
    /// A system call failed (`call` names it, with what kproxy was doing).
    case system(call: String, errno: Int32, context: String)
    /// The transaction holds a value netlink cannot carry; names the operation.
    case invalid(String)
    /// The kernel's acknowledgements were lost (receive buffer overrun), so the outcome is unknown: the caller
    /// must resynchronise in full.
    case acknowledgementsLost(expected: Int, received: Int)
    /// A netns name or path could not be entered.
    case namespace(String, errno: Int32)

    public struct Rejection: Sendable, Hashable, CustomStringConvertible {
        /// nft-style description of the message, e.g. `add rule ip kproxy services`.
        public var operation: String
        public var errno: Int32
        /// The kernel's extended-ack message, when it sent one.
        public var message: String?

        public var description: String {
            var text = "\(operation): \(errnoDescription(errno))"
            if let message, !message.isEmpty { text += " (\(message))" }
            return text
        }
    }

    static let rejectionsShown = 5

    public var description: String {
        switch self {
        case .rejected(let rejections):
            // A refused table refuses every message under it: name the first few, count the rest.
            let shown = rejections.prefix(Self.rejectionsShown).map(\.description).joined(separator: "; ")
            let hidden = rejections.count - Self.rejectionsShown
            return hidden > 0 ? shown + "; and \(hidden) more" : shown
        case .system(let call, let errno, let context):
            return "\(context): \(call): \(errnoDescription(errno))"
        case .invalid(let reason):
            return reason
        case .acknowledgementsLost(let expected, let received):
            return "the kernel's acknowledgements were lost (\(received) of \(expected) received); "
                + "the batch outcome is unknown, resynchronise in full"
        case .namespace(let name, let errno):
            return "cannot enter network namespace \(name): \(errnoDescription(errno))"
        }
    }
}

func errnoDescription(_ code: Int32) -> String {
    String(cString: strerror(code))
}
