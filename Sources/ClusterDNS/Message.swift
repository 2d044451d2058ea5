/// A DNS message, query or response (RFC 1035 §4.1), with EDNS0 (RFC 6891) lifted out of the additional
/// section into ``edns``.
public struct Message: Hashable, Sendable {
    public var id: UInt16
    public var isResponse: Bool
    public var opcode: Opcode
    public var isAuthoritative: Bool
    public var isTruncated: Bool
    public var recursionDesired: Bool
    public var recursionAvailable: Bool
    public var authenticData: Bool
    public var checkingDisabled: Bool
    /// The full 12-bit RCODE; values above 15 need ``edns`` to be written.
    public var rcode: ResponseCode
    public var questions: [Question]
    public var answers: [ResourceRecord]
    public var authorities: [ResourceRecord]
    /// Additional records other than OPT.
    public var additionals: [ResourceRecord]
    public var edns: EDNS?

    public init(
        id: UInt16 = 0,
        isResponse: Bool = false,
        opcode: Opcode = .query,
        isAuthoritative: Bool = false,
        isTruncated: Bool = false,
        recursionDesired: Bool = false,
        recursionAvailable: Bool = false,
        authenticData: Bool = false,
        checkingDisabled: Bool = false,
        rcode: ResponseCode = .noError,
        questions: [Question] = [],
        answers: [ResourceRecord] = [],
        authorities: [ResourceRecord] = [],
        additionals: [ResourceRecord] = [],
        edns: EDNS? = nil
    ) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.isAuthoritative = isAuthoritative
        self.isTruncated = isTruncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.rcode = rcode
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
        self.edns = edns
    }

    /// A query for one question, as a stub resolver sends it.
    public static func query(
        id: UInt16,
        name: DNSName,
        type: RecordType,
        recursionDesired: Bool = true,
        edns: EDNS? = EDNS()
    ) -> Message {
        Message(
            id: id,
            recursionDesired: recursionDesired,
            questions: [Question(name: name, type: type)],
            edns: edns
        )
    }

    /// The skeleton of a reply: same ID, opcode, RD, CD and question, QR set, and an OPT if the query had one
    /// (RFC 6891 §7: a responder must not send OPT to a client that did not).
    public func makeResponse(rcode: ResponseCode = .noError) -> Message {
        Message(
            id: id,
            isResponse: true,
            opcode: opcode,
            recursionDesired: recursionDesired,
            checkingDisabled: checkingDisabled,
            rcode: rcode,
            questions: questions,
            edns: edns.map { EDNS(udpPayloadSize: EDNS.serverPayloadSize, dnssecOK: $0.dnssecOK) }
        )
    }

    /// The single question of a standard query, nil when there is not exactly one.
    public var question: Question? { questions.count == 1 ? questions[0] : nil }

    /// The largest UDP response this client accepts: 512 without EDNS, its EDNS size clamped to
    /// 512…``EDNS/serverPayloadSize`` (1232, the DNS flag day 2020 value, to avoid IP fragmentation).
    public var udpResponseLimit: Int {
        guard let edns else { return 512 }
        return max(512, min(Int(edns.udpPayloadSize), EDNS.serverPayloadSize))
    }
}

/// The question section entry.
public struct Question: Hashable, Sendable {
    public var name: DNSName
    public var type: RecordType
    public var questionClass: RecordClass

    public init(name: DNSName, type: RecordType, questionClass: RecordClass = .internet) {
        self.name = name
        self.type = type
        self.questionClass = questionClass
    }
}

/// The OPT pseudo-record's content (RFC 6891 §6.1).
public struct EDNS: Hashable, Sendable {
    /// What kproxy advertises and the most it sends over UDP (RFC 9715 / flag day 2020).
    public static let serverPayloadSize = 1232

    public var udpPayloadSize: UInt16
    public var version: UInt8
    public var dnssecOK: Bool
    /// Options as (code, data); kproxy acts on none of them and does not echo them.
    public var options: [Option]

    public struct Option: Hashable, Sendable {
        public var code: UInt16
        public var data: [UInt8]

        public init(code: UInt16, data: [UInt8]) {
            self.code = code
            self.data = data
        }
    }

    public init(
        udpPayloadSize: Int = EDNS.serverPayloadSize,
        version: UInt8 = 0,
        dnssecOK: Bool = false,
        options: [Option] = []
    ) {
        self.udpPayloadSize = UInt16(clamping: udpPayloadSize)
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }
}
