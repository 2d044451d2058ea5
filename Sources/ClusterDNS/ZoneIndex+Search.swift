/// Server-side search: kproxy knows which pod asked, so it can walk that pod's search list itself.
///
/// A pod in `demo` resolving `api.example.com` with `ndots:5` first asks
/// `api.example.com.demo.svc.cluster.local`. Instead of NXDOMAIN (and four more round trips, each A and
/// AAAA), kproxy tries `api.example.com.svc.cluster.local`, `api.example.com.cluster.local`, the node's own
/// search domains and finally `api.example.com.`, and answers the first name that exists with
/// `CNAME asked → found` plus the found name's records. CoreDNS's `autopath` does this, but behind NodeLocal
/// DNSCache it never sees the pod's address; kproxy runs on the pod's node and does.
///
/// The walk stops at the first name that exists, with or without records of the asked type, so A and AAAA
/// always agree on the winner: musl stops at whichever answer comes back without NXDOMAIN, and an
/// inconsistent pair would send it on down its list. When nothing exists the client gets the plain
/// NXDOMAIN for the name it asked and walks on by itself, exactly as it would have without kproxy.
extension ZoneIndex {
    /// Nil when the query is not a search expansion of the first suffix, or no candidate is decidable here.
    func search(_ query: Message, _ question: Question, namespace: String) -> ZoneAnswer? {
        let list = config.searchList(namespace: namespace)
        let name = question.name
        guard let first = list.first, name.labelCount > first.labelCount, name.isSubdomain(of: first),
            let base = try? DNSName(labels: name.labels.prefix(name.labelCount - first.labelCount))
        else { return nil }
        var candidates = list.dropFirst().compactMap { try? base.appending($0) }
        candidates.append(base)
        let fallback = negative(query, name, rcode: .nameError)
        for (index, candidate) in candidates.enumerated() {
            guard candidate.isSubdomain(of: config.zone) else {
                var partial = authoritative(query)
                partial.isAuthoritative = false
                return .resolve(
                    Continuation(
                        partial: partial, alias: name, candidates: Array(candidates[index...]), type: question.type,
                        fallback: fallback))
            }
            if let found = aliased(query, question, to: candidate) { return found }
        }
        return nil
    }

    /// The answer for `candidate` presented as `CNAME asked → candidate` plus the candidate's own answer;
    /// nil when the candidate does not exist.
    func aliased(_ query: Message, _ question: Question, to candidate: DNSName) -> ZoneAnswer? {
        let result = lookup(candidate, question.type)
        if case .nameError = result { return nil }
        let redirectedQuestion = Question(name: candidate, type: question.type, questionClass: question.questionClass)
        var redirected = query
        redirected.questions = [redirectedQuestion]
        let cname = ResourceRecord(name: question.name, ttl: config.ttl, data: .cname(candidate))
        func restore(_ message: Message) -> Message {
            var message = message
            message.questions = query.questions
            message.answers.insert(cname, at: 0)
            return message
        }
        switch finishLocal(redirected, redirectedQuestion, result) {
        case .response(let message):
            return .response(restore(message))
        case .resolve(var continuation):
            continuation.partial = restore(continuation.partial)
            continuation.fallback = restore(continuation.fallback)
            return .resolve(continuation)
        case .notInZone:
            return nil
        }
    }

    /// Completes a ``Continuation``: each candidate in turn, from the zone if it lies there, else from
    /// `upstream` (nil reply: the upstream failed). The first candidate that exists wins; SERVFAIL or silence
    /// from upstream gives the fallback, so the client retries or walks on by itself.
    public func finish(
        _ continuation: Continuation, upstream: (DNSName, RecordType) async -> Message?
    ) async -> Message {
        let question = continuation.partial.question
        for candidate in continuation.candidates {
            if candidate.isSubdomain(of: config.zone), let question {
                guard let local = aliased(continuation.partial, question, to: candidate) else { continue }
                if case .response(let message) = local { return message }
                return continuation.fallback
            }
            guard let reply = await upstream(candidate, continuation.type) else { return continuation.fallback }
            if reply.rcode == .nameError { continue }
            guard reply.rcode == .noError else { return continuation.fallback }
            var response = continuation.partial
            if let alias = continuation.alias {
                response.answers.append(ResourceRecord(name: alias, ttl: config.ttl, data: .cname(candidate)))
            }
            response.answers += reply.answers
            if reply.answers.isEmpty { response.authorities = reply.authorities }
            response.isAuthoritative = false
            return response
        }
        return continuation.fallback
    }
}
