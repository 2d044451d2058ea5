import CNetfilter
import Glibc
import RuleSynth

/// What the kernel holds in one of kproxy's tables: enough to adopt it at start-up (replace its contents in
/// one batch) or to delete it, never a full parse of rules.
public struct ProgrammedTable: Hashable, Sendable {
    public var family: TableFamily
    public var name: String
    public var chains: [String: ProgrammedChain]
    public var sets: [String: ProgrammedSet]
}

public struct ProgrammedChain: Hashable, Sendable {
    public var name: String
    /// The hook number (`NF_INET_*`) of a base chain; nil for a regular chain.
    public var hook: UInt32?
    public var ruleCount: Int
}

public struct ProgrammedSet: Hashable, Sendable {
    public var name: String
    /// `NFT_SET_*` flags as the kernel reports them (`.map` for maps, `.anonymous` bit 0 included).
    public var flags: SetFlags
    /// Kernel elements: an interval set counts each range's start and end separately.
    public var elementCount: Int
}

extension NetfilterClient {
    /// Reads the table `name` of `family` back from the kernel, or nil when it does not exist. Only this
    /// table's objects are read: chain dumps (which the kernel does not filter by table) are skipped by their
    /// table attribute without being parsed further.
    public func table(_ family: TableFamily, named name: String) throws(NetfilterError) -> ProgrammedTable? {
        let nfFamily = UInt16(family.nfproto)
        do {
            let table = NftnlTable()
            table.set(NFTNL_TABLE_NAME, string: name)
            table.set(NFTNL_TABLE_FAMILY, u32: family.nfproto)
            _ = try request(NFT_MSG_GETTABLE, family: nfFamily, dump: false) {
                nftnl_table_nlmsg_build_payload($0, table.handle)
            }
        } catch .rejected(let rejections) where rejections.first?.errno == ENOENT {
            return nil
        }

        var result = ProgrammedTable(family: family, name: name, chains: [:], sets: [:])
        let chains = try request(NFT_MSG_GETCHAIN, family: nfFamily, dump: true) { _ in }
        for message in chains {
            let attributes = NetlinkAttributes(message: message)
            guard attributes.string(UInt16(NFTA_CHAIN_TABLE.rawValue)) == name,
                let chain = attributes.string(UInt16(NFTA_CHAIN_NAME.rawValue))
            else { continue }
            let hook = attributes.nested(UInt16(NFTA_CHAIN_HOOK.rawValue))?.u32(UInt16(NFTA_HOOK_HOOKNUM.rawValue))
            result.chains[chain] = ProgrammedChain(name: chain, hook: hook, ruleCount: 0)
        }

        let rule = NftnlRule()
        rule.set(NFTNL_RULE_TABLE, string: name)
        rule.set(NFTNL_RULE_FAMILY, u32: family.nfproto)
        let rules = try request(NFT_MSG_GETRULE, family: nfFamily, dump: true) {
            nftnl_rule_nlmsg_build_payload($0, rule.handle)
        }
        for message in rules {
            let attributes = NetlinkAttributes(message: message)
            guard attributes.string(UInt16(NFTA_RULE_TABLE.rawValue)) == name,
                let chain = attributes.string(UInt16(NFTA_RULE_CHAIN.rawValue))
            else { continue }
            result.chains[chain]?.ruleCount += 1
        }

        let set = NftnlSet()
        set.set(NFTNL_SET_TABLE, string: name)
        set.set(NFTNL_SET_FAMILY, u32: family.nfproto)
        let sets = try request(NFT_MSG_GETSET, family: nfFamily, dump: true) {
            nftnl_set_nlmsg_build_payload($0, set.handle)
        }
        for message in sets {
            let attributes = NetlinkAttributes(message: message)
            guard attributes.string(UInt16(NFTA_SET_TABLE.rawValue)) == name,
                let setName = attributes.string(UInt16(NFTA_SET_NAME.rawValue))
            else { continue }
            let flags = SetFlags(rawValue: attributes.u32(UInt16(NFTA_SET_FLAGS.rawValue)) ?? 0)
            result.sets[setName] = ProgrammedSet(
                name: setName,
                flags: flags,
                elementCount: try elementCount(family, table: name, set: setName)
            )
        }
        return result
    }

    private func elementCount(_ family: TableFamily, table: String, set: String) throws(NetfilterError) -> Int {
        let object = NftnlSet()
        object.set(NFTNL_SET_TABLE, string: table)
        object.set(NFTNL_SET_NAME, string: set)
        object.set(NFTNL_SET_FAMILY, u32: family.nfproto)
        let messages = try request(NFT_MSG_GETSETELEM, family: UInt16(family.nfproto), dump: true) {
            nftnl_set_elems_nlmsg_build_payload($0, object.handle)
        }
        var count = 0
        for message in messages {
            let attributes = NetlinkAttributes(message: message)
            count += attributes.nested(UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue))?.count ?? 0
        }
        return count
    }

    /// Deletes the tables called `name` in `families` that exist, in one batch, and returns the families
    /// whose table was deleted. Other tables are never touched.
    @discardableResult
    public func deleteTables(
        named name: String,
        families: [TableFamily] = TableFamily.allCases
    ) throws(NetfilterError) -> [TableFamily] {
        var present: [TableFamily] = []
        for family in families {
            let table = NftnlTable()
            table.set(NFTNL_TABLE_NAME, string: name)
            table.set(NFTNL_TABLE_FAMILY, u32: family.nfproto)
            do {
                _ = try request(NFT_MSG_GETTABLE, family: UInt16(family.nfproto), dump: false) {
                    nftnl_table_nlmsg_build_payload($0, table.handle)
                }
                present.append(family)
            } catch .rejected(let rejections) where rejections.first?.errno == ENOENT {
                continue
            }
        }
        try apply(Transaction(present.map { .deleteTable($0, name) }))
        return present
    }
}

/// The attributes of one nftables message (after `nlmsghdr` and `nfgenmsg`), or of one nest, read in place.
struct NetlinkAttributes {
    private var bytes: ArraySlice<UInt8>

    init(message: [UInt8]) {
        bytes = message.dropFirst(20)
    }

    private init(slice: ArraySlice<UInt8>) { bytes = slice }

    /// Every attribute as (type, value), in order.
    var all: [(type: UInt16, value: ArraySlice<UInt8>)] {
        var result: [(UInt16, ArraySlice<UInt8>)] = []
        var offset = bytes.startIndex
        while offset + 4 <= bytes.endIndex {
            let length = Int(UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)
            // NLA_TYPE_MASK (a macro): drop the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits.
            let type = (UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8) & 0x3fff
            guard length >= 4, offset + length <= bytes.endIndex else { break }
            result.append((type, bytes[(offset + 4)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
        return result
    }

    var count: Int { all.count }

    func value(_ type: UInt16) -> ArraySlice<UInt8>? { all.first { $0.type == type }?.value }

    func string(_ type: UInt16) -> String? {
        value(type).map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// A big-endian `u32`, as nftables sends its numbers.
    func u32(_ type: UInt16) -> UInt32? {
        guard let value = value(type), value.count == 4 else { return nil }
        return value.reduce(0) { $0 << 8 | UInt32($1) }
    }

    func nested(_ type: UInt16) -> NetlinkAttributes? { value(type).map(NetlinkAttributes.init(slice:)) }
}
