import CNetfilter
import RuleSynth

/// One-to-one translation of ``Expression`` into libnftnl expressions: the model already speaks the kernel's
/// registers and attributes, so nothing here interprets rules.
extension Expression {
    /// An upper bound of any expression's encoded size, so the batch reserves room before libnftnl writes:
    /// data is at most 64 bytes (two buffers for bitwise) and names are checked below 256 bytes (the
    /// kernel's `NFT_NAME_MAXLEN`). A constant, because the encoder asks for every expression it writes.
    static let encodedBound = 640

    func nftnl() throws(EncodingError) -> NftnlExpression {
        switch self {
        case .lookup(let set, _, _, _), .dynset(_, let set, _, _):
            try Self.checkName(set)
        case .immediate(.verdict(let verdict), _):
            if let chain = verdict.chain { try Self.checkName(chain) }
        default:
            break
        }
        return try makeNftnl()
    }

    static func checkName(_ name: String) throws(EncodingError) {
        guard name.utf8.count < 256 else {
            throw EncodingError(reason: "name longer than 255 bytes: \(name.prefix(40))…")
        }
    }

    private func makeNftnl() throws(EncodingError) -> NftnlExpression {
        switch self {
        case .payload(let base, let offset, let length, let dest):
            let expression = NftnlExpression("payload")
            expression.set(NFTNL_EXPR_PAYLOAD_DREG, u32: dest.number)
            expression.set(NFTNL_EXPR_PAYLOAD_BASE, u32: base.rawValue)
            expression.set(NFTNL_EXPR_PAYLOAD_OFFSET, u32: offset)
            expression.set(NFTNL_EXPR_PAYLOAD_LEN, u32: length)
            return expression
        case .meta(let key, let dest):
            let expression = NftnlExpression("meta")
            expression.set(NFTNL_EXPR_META_KEY, u32: key.rawValue)
            expression.set(NFTNL_EXPR_META_DREG, u32: dest.number)
            return expression
        case .metaSet(let key, let source):
            let expression = NftnlExpression("meta")
            expression.set(NFTNL_EXPR_META_KEY, u32: key.rawValue)
            expression.set(NFTNL_EXPR_META_SREG, u32: source.number)
            return expression
        case .ct(let key, let dest):
            let expression = NftnlExpression("ct")
            expression.set(NFTNL_EXPR_CT_KEY, u32: key.rawValue)
            expression.set(NFTNL_EXPR_CT_DREG, u32: dest.number)
            return expression
        case .fib(let flags, let result, let dest):
            let expression = NftnlExpression("fib")
            expression.set(NFTNL_EXPR_FIB_FLAGS, u32: flags.rawValue)
            expression.set(NFTNL_EXPR_FIB_RESULT, u32: result.rawValue)
            expression.set(NFTNL_EXPR_FIB_DREG, u32: dest.number)
            return expression
        case .cmp(let op, let source, let data):
            guard !data.isEmpty, data.count <= 64 else {
                throw EncodingError(reason: "cmp data of \(data.count) bytes (1–64 allowed)")
            }
            let expression = NftnlExpression("cmp")
            expression.set(NFTNL_EXPR_CMP_SREG, u32: source.number)
            expression.set(NFTNL_EXPR_CMP_OP, u32: op.rawValue)
            expression.set(NFTNL_EXPR_CMP_DATA, bytes: data)
            return expression
        case .bitwise(let source, let dest, let length, let mask, let xor):
            guard mask.count == Int(length), xor.count == Int(length) else {
                throw EncodingError(reason: "bitwise mask/xor must be \(length) bytes")
            }
            let expression = NftnlExpression("bitwise")
            expression.set(NFTNL_EXPR_BITWISE_SREG, u32: source.number)
            expression.set(NFTNL_EXPR_BITWISE_DREG, u32: dest.number)
            expression.set(NFTNL_EXPR_BITWISE_LEN, u32: length)
            expression.set(NFTNL_EXPR_BITWISE_MASK, bytes: mask)
            expression.set(NFTNL_EXPR_BITWISE_XOR, bytes: xor)
            return expression
        case .lookup(let set, let source, let dest, let invert):
            let expression = NftnlExpression("lookup")
            expression.set(NFTNL_EXPR_LOOKUP_SREG, u32: source.number)
            expression.set(NFTNL_EXPR_LOOKUP_SET, string: set)
            if let dest { expression.set(NFTNL_EXPR_LOOKUP_DREG, u32: dest.number) }
            if invert { expression.set(NFTNL_EXPR_LOOKUP_FLAGS, u32: NFT_LOOKUP_F_INV.rawValue) }
            return expression
        case .immediate(let data, let dest):
            let expression = NftnlExpression("immediate")
            expression.set(NFTNL_EXPR_IMM_DREG, u32: dest.number)
            switch data {
            case .verdict(let verdict):
                expression.set(NFTNL_EXPR_IMM_VERDICT, u32: UInt32(bitPattern: verdict.code))
                if let chain = verdict.chain { expression.set(NFTNL_EXPR_IMM_CHAIN, string: chain) }
            case .value(let bytes):
                guard !bytes.isEmpty, bytes.count <= 64 else {
                    throw EncodingError(reason: "immediate data of \(bytes.count) bytes (1–64 allowed)")
                }
                expression.set(NFTNL_EXPR_IMM_DATA, bytes: bytes)
            }
            return expression
        case .numgen(let type, let modulus, let offset, let dest):
            guard modulus > 0 else { throw EncodingError(reason: "numgen modulus 0") }
            let expression = NftnlExpression("numgen")
            expression.set(NFTNL_EXPR_NG_DREG, u32: dest.number)
            expression.set(NFTNL_EXPR_NG_MODULUS, u32: modulus)
            expression.set(NFTNL_EXPR_NG_TYPE, u32: type.rawValue)
            expression.set(NFTNL_EXPR_NG_OFFSET, u32: offset)
            return expression
        case .nat(let spec):
            let expression = NftnlExpression("nat")
            expression.set(NFTNL_EXPR_NAT_TYPE, u32: spec.kind.rawValue)
            expression.set(NFTNL_EXPR_NAT_FAMILY, u32: spec.family)
            if let address = spec.addressRegister {
                expression.set(NFTNL_EXPR_NAT_REG_ADDR_MIN, u32: address.number)
            }
            if let port = spec.portRegister {
                expression.set(NFTNL_EXPR_NAT_REG_PROTO_MIN, u32: port.number)
            }
            if spec.flags != 0 { expression.set(NFTNL_EXPR_NAT_FLAGS, u32: spec.flags) }
            return expression
        case .masquerade(let flags):
            let expression = NftnlExpression("masq")
            if flags != 0 { expression.set(NFTNL_EXPR_MASQ_FLAGS, u32: flags) }
            return expression
        case .dynset(let op, let set, let key, let timeout):
            let expression = NftnlExpression("dynset")
            expression.set(NFTNL_EXPR_DYNSET_OP, u32: op.rawValue)
            expression.set(NFTNL_EXPR_DYNSET_SET_NAME, string: set)
            expression.set(NFTNL_EXPR_DYNSET_SREG_KEY, u32: key.number)
            if let timeout { expression.set(NFTNL_EXPR_DYNSET_TIMEOUT, u64: timeout) }
            return expression
        case .reject(let spec):
            let expression = NftnlExpression("reject")
            expression.set(NFTNL_EXPR_REJECT_TYPE, u32: spec.kind.rawValue)
            expression.set(NFTNL_EXPR_REJECT_CODE, u8: spec.code)
            return expression
        case .counter:
            return NftnlExpression("counter")
        }
    }
}
