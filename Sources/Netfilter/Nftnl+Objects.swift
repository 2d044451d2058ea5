import CNetfilter

/// Owners of libnftnl objects: each frees its handle exactly once, and ownership transfers are `consuming`
/// (libnftnl's `nftnl_rule_add_expr` and `nftnl_set_elem_add` take the pointer over).
///
/// These never escape the encoder, so their `OpaquePointer`s stay on the thread that builds the batch.

/// A libnftnl attribute number: expression and element attributes are anonymous enums (imported as `Int`),
/// table, chain, rule and set attributes are named enums with their own types.
protocol NftnlAttribute {
    var number: UInt16 { get }
}

extension Int: NftnlAttribute {
    var number: UInt16 { UInt16(truncatingIfNeeded: self) }
}

extension nftnl_table_attr: NftnlAttribute {
    var number: UInt16 { UInt16(truncatingIfNeeded: rawValue) }
}

extension nftnl_chain_attr: NftnlAttribute {
    var number: UInt16 { UInt16(truncatingIfNeeded: rawValue) }
}

extension nftnl_rule_attr: NftnlAttribute {
    var number: UInt16 { UInt16(truncatingIfNeeded: rawValue) }
}

extension nftnl_set_attr: NftnlAttribute {
    var number: UInt16 { UInt16(truncatingIfNeeded: rawValue) }
}

@inline(__always)
func attr(_ value: some NftnlAttribute) -> UInt16 { value.number }

struct NftnlExpression: ~Copyable {
    fileprivate var handle: OpaquePointer

    init(_ name: String) {
        guard let handle = nftnl_expr_alloc(name) else { fatalError("nftnl_expr_alloc: out of memory") }
        self.handle = handle
    }

    deinit { nftnl_expr_free(handle) }

    func set(_ attribute: some NftnlAttribute, u32 value: UInt32) { nftnl_expr_set_u32(handle, attr(attribute), value) }
    func set(_ attribute: some NftnlAttribute, u64 value: UInt64) { nftnl_expr_set_u64(handle, attr(attribute), value) }
    func set(_ attribute: some NftnlAttribute, u8 value: UInt8) { nftnl_expr_set_u8(handle, attr(attribute), value) }
    func set(_ attribute: some NftnlAttribute, string: String) { nftnl_expr_set_str(handle, attr(attribute), string) }
    func set(_ attribute: some NftnlAttribute, bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            _ = nftnl_expr_set(handle, attr(attribute), raw.baseAddress, UInt32(raw.count))
        }
    }

    /// Gives the handle away; the receiver frees it.
    consuming func release() -> OpaquePointer {
        let handle = self.handle
        discard self
        return handle
    }
}

struct NftnlRule: ~Copyable {
    let handle: OpaquePointer

    init() {
        guard let handle = nftnl_rule_alloc() else { fatalError("nftnl_rule_alloc: out of memory") }
        self.handle = handle
    }

    deinit { nftnl_rule_free(handle) }

    func set(_ attribute: some NftnlAttribute, u32 value: UInt32) { nftnl_rule_set_u32(handle, attr(attribute), value) }
    func set(_ attribute: some NftnlAttribute, string: String) { nftnl_rule_set_str(handle, attr(attribute), string) }
    func set(_ attribute: some NftnlAttribute, bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            _ = nftnl_rule_set_data(handle, attr(attribute), raw.baseAddress, UInt32(raw.count))
        }
    }

    func add(_ expression: consuming NftnlExpression) { nftnl_rule_add_expr(handle, expression.release()) }
}

struct NftnlChain: ~Copyable {
    let handle: OpaquePointer

    init() {
        guard let handle = nftnl_chain_alloc() else { fatalError("nftnl_chain_alloc: out of memory") }
        self.handle = handle
    }

    deinit { nftnl_chain_free(handle) }

    func set(_ attribute: some NftnlAttribute, u32 value: UInt32) {
        nftnl_chain_set_u32(handle, attr(attribute), value)
    }
    func set(_ attribute: some NftnlAttribute, s32 value: Int32) { nftnl_chain_set_s32(handle, attr(attribute), value) }
    func set(_ attribute: some NftnlAttribute, string: String) { nftnl_chain_set_str(handle, attr(attribute), string) }
    func set(_ attribute: some NftnlAttribute, bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            _ = nftnl_chain_set_data(handle, attr(attribute), raw.baseAddress, UInt32(raw.count))
        }
    }
}

struct NftnlTable: ~Copyable {
    let handle: OpaquePointer

    init() {
        guard let handle = nftnl_table_alloc() else { fatalError("nftnl_table_alloc: out of memory") }
        self.handle = handle
    }

    deinit { nftnl_table_free(handle) }

    func set(_ attribute: some NftnlAttribute, u32 value: UInt32) {
        nftnl_table_set_u32(handle, attr(attribute), value)
    }
    func set(_ attribute: some NftnlAttribute, string: String) { nftnl_table_set_str(handle, attr(attribute), string) }
    func set(_ attribute: some NftnlAttribute, bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            _ = nftnl_table_set_data(handle, attr(attribute), raw.baseAddress, UInt32(raw.count))
        }
    }
}

struct NftnlSet: ~Copyable {
    let handle: OpaquePointer

    init() {
        guard let handle = nftnl_set_alloc() else { fatalError("nftnl_set_alloc: out of memory") }
        self.handle = handle
    }

    deinit { nftnl_set_free(handle) }

    func set(_ attribute: some NftnlAttribute, u32 value: UInt32) { nftnl_set_set_u32(handle, attr(attribute), value) }
    func set(_ attribute: some NftnlAttribute, u64 value: UInt64) { nftnl_set_set_u64(handle, attr(attribute), value) }
    func set(_ attribute: some NftnlAttribute, string: String) { nftnl_set_set_str(handle, attr(attribute), string) }
    func set(_ attribute: some NftnlAttribute, bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            _ = nftnl_set_set_data(handle, attr(attribute), raw.baseAddress, UInt32(raw.count))
        }
    }

    func add(_ element: consuming NftnlSetElement) { nftnl_set_elem_add(handle, element.release()) }
}

struct NftnlSetElement: ~Copyable {
    fileprivate var handle: OpaquePointer

    init() {
        guard let handle = nftnl_set_elem_alloc() else { fatalError("nftnl_set_elem_alloc: out of memory") }
        self.handle = handle
    }

    deinit { nftnl_set_elem_free(handle) }

    func set(_ attribute: some NftnlAttribute, u32 value: UInt32) {
        nftnl_set_elem_set_u32(handle, attr(attribute), value)
    }
    func set(_ attribute: some NftnlAttribute, u64 value: UInt64) {
        nftnl_set_elem_set_u64(handle, attr(attribute), value)
    }
    func set(_ attribute: some NftnlAttribute, string: String) {
        nftnl_set_elem_set_str(handle, attr(attribute), string)
    }
    func set(_ attribute: some NftnlAttribute, bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            _ = nftnl_set_elem_set(handle, attr(attribute), raw.baseAddress, UInt32(raw.count))
        }
    }

    consuming func release() -> OpaquePointer {
        let handle = self.handle
        discard self
        return handle
    }
}

/// nft's userdata TLVs (`libnftnl/udata.h`): how comments and set byte orders reach `nft list`.
struct UserData {
    private(set) var bytes: [UInt8] = []

    /// A NUL-terminated string, as `nftnl_udata_put_strz` writes it.
    mutating func put(_ type: some BinaryInteger, string: String) {
        let utf8 = Array(string.utf8) + [0]
        bytes.append(UInt8(truncatingIfNeeded: type))
        bytes.append(UInt8(truncatingIfNeeded: utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A host-order `u32`, as `nftnl_udata_put_u32` writes it.
    mutating func put(_ type: some BinaryInteger, u32 value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: type))
        bytes.append(4)
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    /// A TLV whose value is already encoded (a nest).
    mutating func put(_ type: some BinaryInteger, raw value: [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: type))
        bytes.append(UInt8(truncatingIfNeeded: value.count))
        bytes.append(contentsOf: value)
    }
}
