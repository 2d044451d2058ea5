import Foundation
import KubeModel
import Testing

@Suite("Decoding real API server responses")
struct RealAPIDecodingTests {
    @Test func servicesList() throws {
        let list = try KubeDecoder.decode(ObjectList<Service>.self, fromJSON: Fixture.data("services-list.json"))
        #expect(list.metadata.resourceVersion?.isEmpty == false)
        let kubernetes = try #require(list.items.first { $0.metadata.qualifiedName == "default/kubernetes" })
        #expect(kubernetes.spec.type == .clusterIP)
        #expect(kubernetes.spec.ports.first?.name == "https")
        #expect(kubernetes.spec.ports.first?.port == 443)
        #expect(kubernetes.spec.clusterIPs.first?.family == .ipv4)
        // Every service decodes, and headless ones are recognised.
        #expect(list.items.count >= 2)
        for service in list.items where service.spec.isHeadless {
            #expect(service.spec.clusterIPs.isEmpty)
        }
    }

    @Test func endpointSlicesV1beta1TakeNodeFromTopology() throws {
        let list = try KubeDecoder.decode(
            ObjectList<EndpointSlice>.self, fromJSON: Fixture.data("endpointslices-v1beta1-list.json"))
        let db = try #require(list.items.first { $0.metadata.name == "db-x1" })
        #expect(db.serviceName == "db")
        #expect(db.addressType == .ipv4)
        #expect(db.endpoints.first?.nodeName == "node-a")
        #expect(db.endpoints.first?.hostname == "db-0")
        #expect(db.endpoints.first?.ready == true)
        #expect(db.ports.first?.name == "pg")
        #expect(db.ports.first?.port == 5432)
    }

    @Test func endpointSliceV1UsesNodeNameZoneAndHints() throws {
        let json = """
            {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
             "metadata":{"name":"web-abc","namespace":"demo","labels":{"kubernetes.io/service-name":"web"}},
             "addressType":"IPv6",
             "endpoints":[{"addresses":["fd00:10:244:1::5"],
                           "conditions":{"ready":false,"serving":true,"terminating":true},
                           "nodeName":"node-a","zone":"zone-a",
                           "targetRef":{"kind":"Pod","namespace":"demo","name":"web-1"},
                           "hints":{"forZones":[{"name":"zone-a"}],"forNodes":[{"name":"node-a"}]}}],
             "ports":[{"name":"http","protocol":"TCP","port":8080}]}
            """
        let slice = try KubeDecoder.decode(EndpointSlice.self, fromJSON: Data(json.utf8))
        let endpoint = try #require(slice.endpoints.first)
        #expect(slice.addressType == .ipv6)
        #expect(!endpoint.ready && endpoint.serving && endpoint.terminating)
        #expect(endpoint.nodeName == "node-a" && endpoint.zone == "zone-a")
        #expect(endpoint.zoneHints == ["zone-a"] && endpoint.nodeHints == ["node-a"])
        #expect(endpoint.targetRef?.name == "web-1")
    }

    @Test func missingConditionsMeanReadyAndServing() throws {
        let json = """
            {"metadata":{"name":"s","namespace":"n"},"addressType":"IPv4",
             "endpoints":[{"addresses":["10.0.0.1"]},{"addresses":["10.0.0.2"],"conditions":{"ready":false}}]}
            """
        let slice = try KubeDecoder.decode(EndpointSlice.self, fromJSON: Data(json.utf8))
        #expect(slice.endpoints[0].ready && slice.endpoints[0].serving && !slice.endpoints[0].terminating)
        // serving defaults to ready when absent, as the API documents.
        #expect(!slice.endpoints[1].ready && !slice.endpoints[1].serving)
    }

    @Test func nodes() throws {
        let list = try KubeDecoder.decode(ObjectList<Node>.self, fromJSON: Fixture.data("nodes-list.json"))
        #expect(!list.items.isEmpty)
        for node in list.items {
            #expect(!node.metadata.name.isEmpty)
        }
    }

    @Test func watchStreamDecodesEveryEventIncludingBookmark() throws {
        let events = try Fixture.lines("services-watch-stream.jsonl").map { line in
            try KubeDecoder.decode(WatchEvent<Service>.self, fromJSON: line)
        }
        #expect(!events.isEmpty)
        guard case .bookmark(let version) = try #require(events.last) else {
            Issue.record("the stream ends with a BOOKMARK")
            return
        }
        #expect(!version.isEmpty)
        #expect(events.contains { if case .deleted = $0 { return true } else { return false } })
        #expect(events.contains { if case .modified = $0 { return true } else { return false } })
    }

    @Test func compactedWatchYieldsSyntheticAdds() throws {
        let events = try Fixture.lines("services-watch-from-compacted-rv.jsonl").map { line in
            try KubeDecoder.decode(WatchEvent<Service>.self, fromJSON: line)
        }
        #expect(events.contains { if case .added = $0 { return true } else { return false } })
    }

    @Test func errorEventCarriesExpiredStatus() throws {
        let line = #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (237)","reason":"Expired","code":410}}"#
        let event = try KubeDecoder.decode(WatchEvent<Service>.self, fromJSON: Data(line.utf8))
        guard case .error(let status) = event else {
            Issue.record("expected an ERROR event, got \(event)")
            return
        }
        #expect(status.isExpired)
        #expect(status.message.contains("too old"))
    }

    @Test(arguments: [
        ("status-401-unauthorized.json", 401, "Unauthorized"),
        ("status-403-forbidden.json", 403, "Forbidden"),
        ("status-404-endpointslices-v1.json", 404, "NotFound"),
        ("status-410-expired-list.json", 410, "Expired"),
    ])
    func statusBodies(file: String, code: Int, reason: String) throws {
        let status = try KubeDecoder.decode(Status.self, fromJSON: Fixture.data(file))
        #expect(status.code == code)
        #expect(status.reason == reason)
    }
}
