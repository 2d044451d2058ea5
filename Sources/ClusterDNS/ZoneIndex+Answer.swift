import KubeModel

/// What the cluster zone says about one query.
public enum ZoneAnswer: Sendable {
    /// The complete, authoritative response.
    case response(Message)
    /// Outside the zone, and not a reverse name kproxy serves: the next responder (the forwarder) answers.
    case notInZone
    /// The answer depends on names outside the zone (an ExternalName target, or a server-side search
    /// candidate): ``ZoneIndex/finish(_:upstream:)`` completes it.
    case resolve(Continuation)
}

/// A response waiting on names only an upstream can answer.
public struct Continuation: Sendable {
    /// The response so far: header, question and any CNAME chain already in the answer.
    var partial: Message
    /// Prepend `CNAME alias → winner` (server-side search); nil when the chain is already in ``partial``.
    var alias: DNSName?
    /// Tried in order; the first that exists (not NXDOMAIN) wins.
    public internal(set) var candidates: [DNSName]
    public internal(set) var type: RecordType
    /// The answer when no candidate exists or an upstream fails.
    var fallback: Message
}

/// The query engine: pure, it reads the index and builds messages. No clocks, sockets or globals.
extension ZoneIndex {
    /// Answers `query` from the zone. `clientNamespace` is the asking pod's namespace when kproxy knows it;
    /// it turns on server-side search (``ZoneConfig/serverSideSearch``).
    public func answer(_ query: Message, clientNamespace: @autoclosure () -> String? = nil) -> ZoneAnswer {
        guard let question = query.question, question.questionClass == .internet || question.questionClass == .any
        else { return .notInZone }
        let name = question.name
        if name.isSubdomain(of: config.zone) {
            if question.type == .axfr || question.type == .ixfr {
                return .response(query.makeResponse(rcode: .refused))
            }
            let direct = lookup(name, question.type)
            if case .nameError = direct, config.serverSideSearch, let namespace = clientNamespace(),
                let searched = search(query, question, namespace: namespace)
            {
                return searched
            }
            return finishLocal(query, question, direct)
        }
        if let node = reverseNode(name) {
            var response = authoritative(query)
            if question.type == .ptr || question.type == .any {
                response.answers = node.sets.flatMap(\.records).map {
                    ResourceRecord(name: name, ttl: config.ttl, data: $0)
                }
            } else {
                response.authorities = [soa(owner: name.dropping(labels: name.labelCount - 2))]
            }
            return .response(response)
        }
        return .notInZone
    }

    /// The answer for any in-zone name before the first sync: SERVFAIL, so clients retry instead of caching
    /// an NXDOMAIN for a name that may exist (CoreDNS does the same until its informers sync).
    public static func notSynced(_ query: Message) -> Message {
        query.makeResponse(rcode: .serverFailure)
    }

    /// True if `name` is one kproxy answers for, synced or not (so the server returns SERVFAIL, not REFUSED).
    public static func isInZone(_ name: DNSName, config: ZoneConfig) -> Bool {
        name.isSubdomain(of: config.zone)
    }

    // MARK: Lookup

    /// The outcome of looking one name up for one type, before it becomes a message.
    enum Lookup {
        case nameError
        /// Records of the asked type; empty is NODATA.
        case data([RData])
        /// The name is an alias (ExternalName): its CNAME record and where it points.
        case alias(RData, target: DNSName)
    }

    func lookup(_ name: DNSName, _ type: RecordType) -> Lookup {
        if let node = node(name) {
            var records: [RData] = []
            // The SOA's serial moves with every update, so the apex's SOA is made here rather than indexed.
            if (type == .soa || type == .any) && name.labelCount == zoneLabels { records.append(soa(owner: name).data) }
            for set in node.sets {
                for record in set.records {
                    if case .cname(let target) = record, type != .cname { return .alias(record, target: target) }
                    if type == .any || record.type == type { records.append(record) }
                }
            }
            return .data(records)
        }
        return lookupPod(name, type)
    }

    /// `<ns>.pod.<zone>` and `<a-b-c-d>.<ns>.pod.<zone>`: computed, not indexed, since any address may be asked.
    func lookupPod(_ name: DNSName, _ type: RecordType) -> Lookup {
        let relative = name.labelCount - zoneLabels
        guard relative == 2 || relative == 3, config.podRecords != .disabled else { return .nameError }
        let labels = name.labels
        guard labels[relative - 1].elementsEqual("pod".utf8, by: { DNSName.lower($0) == $1 }) else { return .nameError }
        let namespace = String(decoding: labels[relative - 2].map(DNSName.lower), as: UTF8.self)
        guard namespaceExists(namespace) else { return .nameError }
        guard relative == 3 else { return .data([]) }
        // CoreDNS `findPods`: exactly three dashes and no `--` is IPv4, anything else is IPv6 with `-` for `:`.
        let label = String(decoding: labels[0].map(DNSName.lower), as: UTF8.self)
        let isV4 = label.utf8.count { $0 == UInt8(ascii: "-") } == 3 && !label.contains("--")
        guard let address = IPAddress(label.replacingOccurrences(of: "-", with: isV4 ? "." : ":")),
            (address.family == .ipv4) == isV4
        else { return .nameError }
        if config.podRecords == .verified && podsByIP[address]?.namespace != namespace { return .nameError }
        let record = address.addressRecord
        return .data(type == .any || record.type == type ? [record] : [])
    }

    // MARK: Building responses

    func authoritative(_ query: Message, rcode: ResponseCode = .noError) -> Message {
        var response = query.makeResponse(rcode: rcode)
        response.isAuthoritative = true
        return response
    }

    /// The zone's SOA, owned by `owner` (the zone apex in the query's case), TTL and minimum as CoreDNS sets them.
    func soa(owner: DNSName) -> ResourceRecord {
        let data = SOA(
            primary: soaPrimary, mailbox: soaMailbox, serial: serial, refresh: 7200, retry: 1800, expire: 86400,
            minimum: config.ttl)
        return ResourceRecord(name: owner, ttl: min(config.ttl, 300), data: .soa(data))
    }

    /// The apex as the client spelled it.
    func zoneOwner(in name: DNSName) -> DNSName { name.dropping(labels: name.labelCount - zoneLabels) }

    func negative(_ query: Message, _ name: DNSName, rcode: ResponseCode) -> Message {
        var response = authoritative(query, rcode: rcode)
        response.authorities = [soa(owner: zoneOwner(in: name))]
        return response
    }

    /// Turns a lookup into a response: records owned by the asked name in its case, SRV targets' addresses
    /// in the additional section, and in-zone CNAME chains followed (at most 8 links, loops refused).
    func finishLocal(_ query: Message, _ question: Question, _ result: Lookup) -> ZoneAnswer {
        let name = question.name
        let ttl = config.ttl
        switch result {
        case .nameError:
            return .response(negative(query, name, rcode: .nameError))
        case .data(let records):
            guard !records.isEmpty else { return .response(negative(query, name, rcode: .noError)) }
            var response = authoritative(query)
            response.answers = records.map { ResourceRecord(name: name, ttl: ttl, data: $0) }
            response.additionals = additionals(for: records)
            return .response(response)
        case .alias(let record, var target):
            var response = authoritative(query)
            response.answers = [ResourceRecord(name: name, ttl: ttl, data: record)]
            var seen: Set<DNSName> = [name]
            for _ in 0..<8 {
                guard question.type == .a || question.type == .aaaa, seen.insert(target).inserted else { break }
                guard target.isSubdomain(of: config.zone) else {
                    let continuation = Continuation(
                        partial: response, alias: nil, candidates: [target], type: question.type, fallback: response)
                    return .resolve(continuation)
                }
                switch lookup(target, question.type) {
                case .nameError, .data([]):
                    return .response(response)
                case .data(let records):
                    response.answers += records.map { ResourceRecord(name: target, ttl: ttl, data: $0) }
                    return .response(response)
                case .alias(let next, let nextTarget):
                    response.answers.append(ResourceRecord(name: target, ttl: ttl, data: next))
                    target = nextTarget
                }
            }
            return .response(response)
        }
    }

    /// A and AAAA records of in-zone SRV targets, each target once.
    func additionals(for records: [RData]) -> [ResourceRecord] {
        var result: [ResourceRecord] = []
        var seen = Set<NameKey>()
        for record in records {
            guard case .srv(let srv) = record, seen.insert(NameKey(srv.target)).inserted,
                let node = node(srv.target)
            else { continue }
            for set in node.sets {
                for data in set.records where data.type == .a || data.type == .aaaa {
                    result.append(ResourceRecord(name: srv.target, ttl: config.ttl, data: data))
                }
            }
        }
        return result
    }
}
