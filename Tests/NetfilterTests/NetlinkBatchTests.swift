import CNetfilter
import KubeModel
import Netfilter
import RuleSynth
import Testing

/// Batch encoding, checked byte by byte without a kernel: framing, acknowledgement flags, sequence mapping,
/// element chunking and interval encoding, and each expression decoded back by libnftnl into the text
/// `nft --debug=netlink` prints for the same rule.
@Suite struct NetlinkBatchTests {
    struct Header {
        var length: Int
        var type: UInt16
        var flags: UInt16
        var sequence: UInt32
        var offset: Int
    }

    static func headers(_ bytes: [UInt8]) -> [Header] {
        var result: [Header] = []
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset + 16 <= raw.count {
                let length = Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                result.append(
                    Header(
                        length: length,
                        type: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                        flags: raw.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
                        sequence: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
                        offset: offset
                    )
                )
                offset += (length + 3) & ~3
            }
        }
        return result
    }

    static let table = Transaction.Operation.addTable(.ip, "kproxy", comment: nil)

    @Test func framesEveryObjectBetweenBatchBeginAndEndWithAcks() throws {
        let transaction = Transaction([
            Self.table,
            .addChain(.ip, table: "kproxy", Chain(name: "services")),
            .addRule(.ip, table: "kproxy", chain: "services", Rule([.counter])),
        ])
        let batch = try NetlinkBatch(transaction, firstSequence: 100)
        let headers = Self.headers(batch.bytes)
        #expect(headers.count == 5)
        #expect(headers.first?.type == UInt16(NFNL_MSG_BATCH_BEGIN))
        #expect(headers.last?.type == UInt16(NFNL_MSG_BATCH_END))
        #expect(headers.map(\.sequence) == [100, 101, 102, 103, 104])
        #expect(batch.lastSequence == 104)
        let subsystem = UInt16(NFNL_SUBSYS_NFTABLES) << 8
        #expect(
            headers[1..<4].map(\.type)
                == [NFT_MSG_NEWTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE].map {
                    subsystem | UInt16($0.rawValue)
                }
        )
        for header in headers[1..<4] {
            #expect(header.flags & UInt16(NLM_F_ACK) != 0)
            #expect(header.flags & UInt16(NLM_F_REQUEST) != 0)
        }
        #expect(headers[3].flags & UInt16(NLM_F_APPEND) != 0)
        #expect(headers.last.map { $0.offset + $0.length } == batch.bytes.count)
    }

    @Test func mapsSequenceNumbersBackToOperations() throws {
        let rule = Rule([.immediate(.verdict(.goto("service-ABC")), dest: .verdict)], comment: "ns/svc:http")
        let transaction = Transaction([Self.table, .addRule(.ip, table: "kproxy", chain: "services", rule)])
        let batch = try NetlinkBatch(transaction, firstSequence: 7)
        let message = try #require(batch.message(sequence: 9))
        #expect(message.operation == 1)
        #expect(batch.describe(message) == #"add rule ip kproxy services comment "ns/svc:http""#)
        #expect(batch.message(sequence: 7) == nil)  // BATCH_BEGIN
        #expect(batch.message(sequence: 10) == nil)  // BATCH_END
    }

    @Test func splitsLargeElementListsBelowTheNestLimit() throws {
        let elements = (0..<20_000).map { index in
            SetElement(
                key: [
                    .address(IPAddress(bytes: [10, 96, UInt8(index >> 8), UInt8(index & 0xff)])!), .proto(.tcp),
                    .port(80),
                ],
                data: .verdict(.goto("service-\(index)-a-long-chain-name-like-kube-proxy-uses/ns/name/tcp/http")),
                comment: "namespace/service-\(index):http"
            )
        }
        let transaction = Transaction([.addElements(.ip, table: "kproxy", set: "service-ips", elements)])
        let batch = try NetlinkBatch(transaction)
        #expect(batch.messages.count > 10)
        let headers = Self.headers(batch.bytes)
        for header in headers { #expect(header.length < 65_536 + 64) }
        let ranges = batch.messages.compactMap(\.elements)
        #expect(ranges.first?.lowerBound == 0)
        #expect(ranges.last?.upperBound == elements.count)
        for (previous, next) in zip(ranges, ranges.dropFirst()) { #expect(previous.upperBound == next.lowerBound) }
        #expect(batch.describe(batch.messages[1]).hasPrefix("add element ip kproxy service-ips (elements "))
    }

    @Test func refusesCommentsNftWouldRefuse() {
        let rule = Rule([.counter], comment: String(repeating: "x", count: 129))
        let transaction = Transaction([.addRule(.ip, table: "kproxy", chain: "services", rule)])
        #expect(
            throws: NetfilterError.invalid(
                "add rule ip kproxy services comment \"\(rule.comment!)\": comment longer than 128 bytes"
            )
        ) {
            try NetlinkBatch(transaction)
        }
    }
}
