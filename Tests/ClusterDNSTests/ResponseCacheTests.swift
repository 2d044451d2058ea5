import KubeModel
import Testing

@testable import ClusterDNS

@Suite struct ResponseCacheTests {
    let start = ContinuousClock.now
    let name = try! DNSName("www.example.net")

    func answer(_ query: Message, ttl: UInt32) -> Message {
        var response = query.makeResponse()
        response.answers = [ResourceRecord(name: name, ttl: ttl, data: .a(IPAddress("192.0.2.53")!))]
        return response
    }

    func negative(_ query: Message, soaTTL: UInt32, minimum: UInt32) -> Message {
        var response = query.makeResponse(rcode: .nameError)
        response.authorities = [
            ResourceRecord(
                name: try! DNSName("example.net"),
                ttl: soaTTL,
                data: .soa(
                    SOA(
                        primary: try! DNSName("ns.example.net"),
                        mailbox: try! DNSName("hostmaster.example.net"),
                        serial: 1,
                        refresh: 2,
                        retry: 3,
                        expire: 4,
                        minimum: minimum
                    )
                )
            )
        ]
        return response
    }

    @Test func hitAgesTTLsAndTakesTheQuerysIDAndCase() throws {
        var cache = ResponseCache()
        let query = Message.query(id: 1, name: name, type: .a)
        cache.store(answer(query, ttl: 60), for: query, now: start)
        let again = Message.query(id: 2, name: try DNSName("WWW.Example.NET"), type: .a)
        let found = cache.lookup(again, now: start + .seconds(15))
        let hit = try #require(found)
        #expect(hit.id == 2)
        #expect(hit.answers[0].ttl == 45)
        #expect(hit.answers[0].name.description == "WWW.Example.NET.")
        #expect(hit.questions[0].name.description == "WWW.Example.NET.")
        #expect(cache.lookup(again, now: start + .seconds(60)) == nil)
        #expect(cache.count == 0)
        // Another type is another key.
        #expect(cache.lookup(Message.query(id: 3, name: name, type: .aaaa), now: start) == nil)
    }

    @Test func capsPositiveAndNegativeTTLs() throws {
        var cache = ResponseCache(limits: .init(maxPositiveTTL: 30, maxNegativeTTL: 5))
        let query = Message.query(id: 1, name: name, type: .a)
        cache.store(answer(query, ttl: 86400), for: query, now: start)
        #expect(cache.lookup(query, now: start + .seconds(29))?.answers[0].ttl == 1)
        #expect(cache.lookup(query, now: start + .seconds(30)) == nil)

        // The negative TTL is min(SOA TTL, SOA MINIMUM), then capped.
        #expect(ResponseCache.cacheTTL(negative(query, soaTTL: 3600, minimum: 60), limits: .init()) == 60)
        #expect(ResponseCache.cacheTTL(negative(query, soaTTL: 10, minimum: 60), limits: .init()) == 10)
        cache.store(negative(query, soaTTL: 3600, minimum: 60), for: query, now: start)
        #expect(cache.lookup(query, now: start + .seconds(4))?.rcode == .nameError)
        #expect(cache.lookup(query, now: start + .seconds(5)) == nil)
    }

    @Test func neverStoresTruncatedFailedOrSOAlessNegativeAnswers() {
        var cache = ResponseCache()
        let query = Message.query(id: 1, name: name, type: .a)
        var truncated = answer(query, ttl: 60)
        truncated.isTruncated = true
        cache.store(truncated, for: query, now: start)
        cache.store(query.makeResponse(rcode: .serverFailure), for: query, now: start)
        cache.store(query.makeResponse(rcode: .nameError), for: query, now: start)
        cache.store(answer(query, ttl: 0), for: query, now: start)
        #expect(cache.count == 0)
    }

    @Test func evictsTheLeastRecentlyUsed() throws {
        var cache = ResponseCache(limits: .init(capacity: 3))
        let queries = try (0..<4).map { Message.query(id: 1, name: try DNSName("n\($0).example"), type: .a) }
        for query in queries.prefix(3) { cache.store(answer(query, ttl: 60), for: query, now: start) }
        _ = cache.lookup(queries[0], now: start)  // n0 is now the most recent; n1 the least
        cache.store(answer(queries[3], ttl: 60), for: queries[3], now: start)
        #expect(cache.count == 3)
        #expect(cache.lookup(queries[1], now: start) == nil)
        #expect(cache.lookup(queries[0], now: start) != nil)
        #expect(cache.lookup(queries[2], now: start) != nil)
        #expect(cache.lookup(queries[3], now: start) != nil)
    }

    @Test func lruMapStaysConsistentUnderChurn() {
        var map = LRUMap<Int, Int>()
        var generator = SplitMix64(seed: 42)
        var reference: [Int: Int] = [:]
        for step in 0..<5000 {
            let key = Int(generator.next() % 64)
            switch generator.next() % 3 {
            case 0:
                map[key] = step
                reference[key] = step
            case 1:
                map[key] = nil
                reference[key] = nil
            default:
                #expect(map[key] == reference[key])
            }
            if map.count > 40 {
                map.removeLeastRecentlyUsed()
                reference = reference.filter { map[$0.key] != nil }
            }
            #expect(map.count == reference.count)
        }
    }
}
