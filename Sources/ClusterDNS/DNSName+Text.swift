/// Presentation format (RFC 1035 §5.1), as `dig` prints and zone files spell names.
extension DNSName {
    /// Parses `www.example.com`, `www.example.com.` or `.`; every name is taken as absolute.
    ///
    /// `\.` and `\\` escape a literal byte, `\DDD` is a decimal byte value; other bytes are taken as they are.
    public init(_ text: some StringProtocol) throws(DNSNameError) {
        var labels: [[UInt8]] = []
        var current: [UInt8] = []
        let bytes = Array(text.utf8)
        if bytes == [UInt8(ascii: ".")] {
            self = .root
            return
        }
        var index = 0
        var endedWithDot = false
        while index < bytes.count {
            let byte = bytes[index]
            endedWithDot = false
            if byte == UInt8(ascii: ".") {
                guard !current.isEmpty else { throw .emptyLabel }
                labels.append(current)
                current = []
                endedWithDot = true
                index += 1
            } else if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count else { throw .badEscape(String(text)) }
                let next = bytes[index + 1]
                if next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") {
                    guard index + 3 < bytes.count else { throw .badEscape(String(text)) }
                    var value = 0
                    for offset in 1...3 {
                        let digit = bytes[index + offset]
                        guard digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") else {
                            throw .badEscape(String(text))
                        }
                        value = value * 10 + Int(digit - UInt8(ascii: "0"))
                    }
                    guard value <= 255 else { throw .badEscape(String(text)) }
                    current.append(UInt8(value))
                    index += 4
                } else {
                    current.append(next)
                    index += 2
                }
            } else {
                current.append(byte)
                index += 1
            }
            guard current.count <= DNSName.maxLabelLength else { throw .labelTooLong(current.count) }
        }
        if !current.isEmpty {
            labels.append(current)
        } else if !endedWithDot && !bytes.isEmpty {
            throw .emptyLabel
        }
        if bytes.isEmpty { throw .emptyLabel }
        try self.init(labels: labels)
    }

    /// Presentation form with a trailing dot; `.`, `\`, `"`, `;`, `(`, `)`, `@`, `$`, spaces and
    /// non-printable bytes are escaped as `dig` does.
    public var description: String {
        if wire.isEmpty { return "." }
        var out: [UInt8] = []
        out.reserveCapacity(wire.count + 1)
        var index = 0
        while index < wire.count {
            let length = Int(wire[index])
            for byte in wire[(index + 1)..<(index + 1 + length)] {
                DNSName.appendEscaped(byte, to: &out)
            }
            out.append(UInt8(ascii: "."))
            index += 1 + length
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The name as the user would type it: no trailing dot, root as `.`.
    public var textWithoutTrailingDot: String {
        let text = description
        return text == "." ? text : String(text.dropLast())
    }

    static func appendEscaped(_ byte: UInt8, to out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: ";"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "@"), UInt8(ascii: "$"):
            out.append(UInt8(ascii: "\\"))
            out.append(byte)
        case 0x21...0x7e:
            out.append(byte)
        default:
            out.append(UInt8(ascii: "\\"))
            out.append(UInt8(ascii: "0") + byte / 100)
            out.append(UInt8(ascii: "0") + byte / 10 % 10)
            out.append(UInt8(ascii: "0") + byte % 10)
        }
    }
}
