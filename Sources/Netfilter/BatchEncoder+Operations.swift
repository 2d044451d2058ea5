import CNetfilter
import RuleSynth

/// nft's limit for a comment (`NFT_USERDATA_MAXLEN` allows 256 bytes of userdata; nft rejects comments over 128).
let maximumCommentLength = 128

/// nft's userdata byte orders (`enum byteorder`): what `NFTNL_UDATA_SET_KEYBYTEORDER` records per type.
extension DataType {
    var byteOrder: UInt32 {
        switch self {
        case .ipv4Addr, .ipv6Addr, .inetService: return 2  // BYTEORDER_BIG_ENDIAN
        case .mark, .ifname: return 1  // BYTEORDER_HOST_ENDIAN
        case .verdict, .inetProto: return 0  // BYTEORDER_INVALID
        }
    }

    /// The type id the kernel stores: nft maps its verdict type to `NFT_DATA_VERDICT`.
    var kernelType: UInt32 { self == .verdict ? 0xffff_ff00 : rawValue }
}

extension BatchEncoder {
    mutating func encode(_ operation: Transaction.Operation, index: Int) throws(EncodingError) {
        switch operation {
        case .addTable(let family, let name, let comment):
            let table = NftnlTable()
            table.set(NFTNL_TABLE_NAME, string: name)
            table.set(NFTNL_TABLE_FAMILY, u32: family.nfproto)
            table.set(NFTNL_TABLE_FLAGS, u32: 0)
            if let comment {
                var userData = UserData()
                userData.put(NFTNL_UDATA_TABLE_COMMENT.rawValue, string: try checked(comment))
                table.set(NFTNL_TABLE_USERDATA, bytes: userData.bytes)
            }
            message(
                NFT_MSG_NEWTABLE,
                family: family,
                flags: NLM_F_CREATE,
                bound: 512 + name.utf8.count * 2,
                operation: index
            ) { nftnl_table_nlmsg_build_payload($0, table.handle) }

        case .deleteTable(let family, let name):
            let table = NftnlTable()
            table.set(NFTNL_TABLE_NAME, string: name)
            table.set(NFTNL_TABLE_FAMILY, u32: family.nfproto)
            message(NFT_MSG_DELTABLE, family: family, flags: 0, bound: 256 + name.utf8.count, operation: index) {
                nftnl_table_nlmsg_build_payload($0, table.handle)
            }

        case .addChain(let family, let tableName, let chain):
            let object = NftnlChain()
            object.set(NFTNL_CHAIN_TABLE, string: tableName)
            object.set(NFTNL_CHAIN_NAME, string: chain.name)
            object.set(NFTNL_CHAIN_FAMILY, u32: family.nfproto)
            if let base = chain.base {
                object.set(NFTNL_CHAIN_HOOKNUM, u32: base.hook.number)
                object.set(NFTNL_CHAIN_PRIO, s32: base.priority)
                object.set(NFTNL_CHAIN_TYPE, string: base.type.rawValue)
                object.set(NFTNL_CHAIN_POLICY, u32: UInt32(bitPattern: base.policy.code))
            }
            if let comment = chain.comment {
                var userData = UserData()
                userData.put(NFTNL_UDATA_CHAIN_COMMENT.rawValue, string: try checked(comment))
                object.set(NFTNL_CHAIN_USERDATA, bytes: userData.bytes)
            }
            let bound = 512 + tableName.utf8.count + chain.name.utf8.count + (chain.comment?.utf8.count ?? 0)
            message(NFT_MSG_NEWCHAIN, family: family, flags: NLM_F_CREATE, bound: bound, operation: index) {
                nftnl_chain_nlmsg_build_payload($0, object.handle)
            }

        case .flushChain(let family, let tableName, let chain):
            let rule = NftnlRule()
            rule.set(NFTNL_RULE_TABLE, string: tableName)
            rule.set(NFTNL_RULE_CHAIN, string: chain)
            rule.set(NFTNL_RULE_FAMILY, u32: family.nfproto)
            let bound = 256 + tableName.utf8.count + chain.utf8.count
            message(NFT_MSG_DELRULE, family: family, flags: 0, bound: bound, operation: index) {
                nftnl_rule_nlmsg_build_payload($0, rule.handle)
            }

        case .deleteChain(let family, let tableName, let chain):
            let object = NftnlChain()
            object.set(NFTNL_CHAIN_TABLE, string: tableName)
            object.set(NFTNL_CHAIN_NAME, string: chain)
            object.set(NFTNL_CHAIN_FAMILY, u32: family.nfproto)
            let bound = 256 + tableName.utf8.count + chain.utf8.count
            message(NFT_MSG_DELCHAIN, family: family, flags: 0, bound: bound, operation: index) {
                nftnl_chain_nlmsg_build_payload($0, object.handle)
            }

        case .addRule(let family, let tableName, let chain, let rule):
            try encodeRule(rule, family: family, table: tableName, chain: chain, index: index)

        case .addSet(let family, let tableName, let set):
            try encodeSet(set, family: family, table: tableName, index: index)

        case .flushSet(let family, let tableName, let set, _):
            let object = NftnlSet()
            object.set(NFTNL_SET_TABLE, string: tableName)
            object.set(NFTNL_SET_NAME, string: set)
            object.set(NFTNL_SET_FAMILY, u32: family.nfproto)
            let bound = 256 + tableName.utf8.count + set.utf8.count
            message(NFT_MSG_DELSETELEM, family: family, flags: 0, bound: bound, operation: index) {
                nftnl_set_elems_nlmsg_build_payload($0, object.handle)
            }

        case .deleteSet(let family, let tableName, let set, _):
            let object = NftnlSet()
            object.set(NFTNL_SET_TABLE, string: tableName)
            object.set(NFTNL_SET_NAME, string: set)
            object.set(NFTNL_SET_FAMILY, u32: family.nfproto)
            let bound = 256 + tableName.utf8.count + set.utf8.count
            message(NFT_MSG_DELSET, family: family, flags: 0, bound: bound, operation: index) {
                nftnl_set_nlmsg_build_payload($0, object.handle)
            }

        case .addElements(let family, let tableName, let set, let elements):
            try encodeElements(
                elements,
                adding: true,
                family: family,
                table: tableName,
                set: set,
                index: index
            )

        case .deleteElements(let family, let tableName, let set, let elements):
            try encodeElements(
                elements,
                adding: false,
                family: family,
                table: tableName,
                set: set,
                index: index
            )
        }
    }

    /// One `NFT_MSG_NEWRULE`, appended to the chain.
    mutating func encodeRule(
        _ rule: Rule,
        family: TableFamily,
        table: String,
        chain: String,
        index: Int
    ) throws(EncodingError) {
        let object = NftnlRule()
        object.set(NFTNL_RULE_TABLE, string: table)
        object.set(NFTNL_RULE_CHAIN, string: chain)
        object.set(NFTNL_RULE_FAMILY, u32: family.nfproto)
        var bound = 512 + table.utf8.count + chain.utf8.count
        for expression in rule.expressions {
            bound += Expression.encodedBound
            object.add(try expression.nftnl())
        }
        if let comment = rule.comment {
            var userData = UserData()
            userData.put(NFTNL_UDATA_RULE_COMMENT.rawValue, string: try checked(comment))
            object.set(NFTNL_RULE_USERDATA, bytes: userData.bytes)
            bound += userData.bytes.count + 8
        }
        message(NFT_MSG_NEWRULE, family: family, flags: NLM_F_CREATE | NLM_F_APPEND, bound: bound, operation: index) {
            nftnl_rule_nlmsg_build_payload($0, object.handle)
        }
    }

    /// One `NFT_MSG_NEWSET` with the attributes and userdata nft 1.0.6 sends for the same declaration, so
    /// `nft list` prints it back identically.
    mutating func encodeSet(_ set: NamedSet, family: TableFamily, table: String, index: Int) throws(EncodingError) {
        guard !set.key.isEmpty else { throw EncodingError(reason: "a set needs a key type") }
        let object = NftnlSet()
        object.set(NFTNL_SET_TABLE, string: table)
        object.set(NFTNL_SET_NAME, string: set.name)
        object.set(NFTNL_SET_FAMILY, u32: family.nfproto)
        // The kernel requires a transaction-local id on every new set, even one only referenced by name.
        nextSetID += 1
        object.set(NFTNL_SET_ID, u32: nextSetID)
        let key = DataType.concatenation(set.key)
        let concatenatedRanges = set.key.count > 1 && set.flags.contains(.interval)
        var flags = set.flags
        if set.isMap { flags.insert(.map) }
        if concatenatedRanges { flags.insert(.concat) }
        if set.flags.contains(.interval), set.key.count == 1 {
            intervalSetsDeclared.insert(SetName(family: family, table: table, set: set.name))
        }
        object.set(NFTNL_SET_FLAGS, u32: flags.rawValue)
        object.set(NFTNL_SET_KEY_TYPE, u32: key.type)
        object.set(NFTNL_SET_KEY_LEN, u32: key.length)
        var userData = UserData()
        userData.put(NFTNL_UDATA_SET_KEYBYTEORDER.rawValue, u32: set.key.count == 1 ? set.key[0].byteOrder : 0)
        if let data = set.data {
            guard !data.isEmpty else { throw EncodingError(reason: "a map needs a value type") }
            let value = DataType.concatenation(data)
            object.set(NFTNL_SET_DATA_TYPE, u32: data.count == 1 ? data[0].kernelType : value.type)
            object.set(NFTNL_SET_DATA_LEN, u32: data == [.verdict] ? 0 : value.length)
            userData.put(NFTNL_UDATA_SET_DATABYTEORDER.rawValue, u32: data.count == 1 ? data[0].byteOrder : 0)
        }
        if set.key.count > 1 {
            // nft records a concatenated `type` key as a typeof nest naming a concat expression (EXPR_CONCAT).
            var typeOf = UserData()
            typeOf.put(NFTNL_UDATA_SET_TYPEOF_EXPR, u32: 13)
            typeOf.put(NFTNL_UDATA_SET_TYPEOF_DATA, raw: [])
            userData.put(NFTNL_UDATA_SET_KEY_TYPEOF.rawValue, raw: typeOf.bytes)
        }
        if set.isMap {
            userData.put(NFTNL_UDATA_SET_DATA_INTERVAL.rawValue, u32: 0)
        }
        if let comment = set.comment {
            userData.put(NFTNL_UDATA_SET_COMMENT.rawValue, string: try checked(comment))
        }
        object.set(NFTNL_SET_USERDATA, bytes: userData.bytes)
        if let timeout = set.timeout { object.set(NFTNL_SET_TIMEOUT, u64: UInt64(timeout) * 1000) }
        if set.flags.contains(.eval) {
            // nft gives a dynamic set without an explicit size its default of 65535 elements.
            object.set(NFTNL_SET_DESC_SIZE, u32: 65535)
        }
        if concatenatedRanges {
            let fields = set.key.map { UInt8($0.length) }
            fields.withUnsafeBytes { raw in
                _ = nftnl_set_set_data(object.handle, attr(NFTNL_SET_DESC_CONCAT), raw.baseAddress, UInt32(raw.count))
            }
        }
        let bound = 1024 + table.utf8.count + set.name.utf8.count + userData.bytes.count
        message(NFT_MSG_NEWSET, family: family, flags: NLM_F_CREATE, bound: bound, operation: index) {
            nftnl_set_nlmsg_build_payload($0, object.handle)
        }
    }

    mutating func message(
        _ type: nf_tables_msg_types,
        family: TableFamily,
        flags: Int32,
        bound: Int,
        operation: Int,
        elements: Range<Int>? = nil,
        _ build: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) {
        message(
            type,
            family: UInt16(family.nfproto),
            flags: flags,
            bound: bound,
            operation: operation,
            elements: elements,
            build
        )
    }
}

/// Rejects what nft itself would reject, so both paths fail alike.
func checked(_ comment: String) throws(EncodingError) -> String {
    guard comment.utf8.count <= maximumCommentLength else {
        throw EncodingError(reason: "comment longer than \(maximumCommentLength) bytes")
    }
    return comment
}
