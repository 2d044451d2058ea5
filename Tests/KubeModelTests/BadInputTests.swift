import Foundation
import KubeModel
import Testing

@Suite("Bad input gives a precise error and never traps")
struct BadInputTests {
    static func service(ports: String = #"[{"name":"http","port":80}]"#, extra: String = "") -> String {
        #"{"metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.5","ports":\#(ports)\#(extra)}}"#
    }

    func error(decoding json: String) -> String? {
        do {
            _ = try KubeDecoder.decode(Service.self, fromJSON: Data(json.utf8))
            return nil
        } catch {
            return error.description
        }
    }

    @Test func outOfRangePortNamesObjectAndPath() {
        let json = Self.service(ports: #"[{"port":80},{"port":81},{"name":"x","port":70000}]"#)
        #expect(error(decoding: json) == "default/web: spec.ports[2].port: 70000 is not a valid port")
    }

    @Test func zeroAndNegativePorts() {
        #expect(error(decoding: Self.service(ports: #"[{"port":0}]"#)) == "default/web: spec.ports[0].port: 0 is not a valid port")
        #expect(error(decoding: Self.service(ports: #"[{"port":-1}]"#)) == "default/web: spec.ports[0].port: -1 is not a valid port")
    }

    @Test func wrongType() {
        #expect(error(decoding: Self.service(ports: #"[{"port":"eighty"}]"#)) == "default/web: spec.ports[0].port: expected an integer")
        #expect(error(decoding: Self.service(ports: #"{"port":80}"#)) == "default/web: spec.ports: expected a list")
    }

    @Test func invalidIPs() {
        let badClusterIP = #"{"metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.300"}}"#
        #expect(error(decoding: badClusterIP) == #"default/web: spec.clusterIP: "10.96.0.300" is not a valid IP address"#)
        let badExternal = Self.service(extra: #","externalIPs":["1.2.3.4","::zz"]"#)
        #expect(error(decoding: badExternal) == #"default/web: spec.externalIPs[1]: "::zz" is not a valid IP address"#)
        let badRange = Self.service(extra: #","type":"LoadBalancer","loadBalancerSourceRanges":["10.0.0.0/33"]"#)
        #expect(error(decoding: badRange) == #"default/web: spec.loadBalancerSourceRanges: "10.0.0.0/33" is not a valid CIDR"#)
    }

    @Test func unknownEnumValueListsTheChoices() {
        let json = Self.service(ports: #"[{"port":80,"protocol":"ICMP"}]"#)
        #expect(error(decoding: json) == #"default/web: spec.ports[0].protocol: "ICMP" is not one of TCP, UDP, SCTP"#)
    }

    @Test func missingRequiredFields() {
        #expect(error(decoding: #"{"spec":{}}"#) == "metadata: is required")
        #expect(error(decoding: #"{"metadata":{"namespace":"x"},"spec":{}}"#) == "metadata.name: is required")
        #expect(error(decoding: #"{"metadata":{"name":"web","namespace":"default"}}"#) == "default/web: spec: is required")
        #expect(error(decoding: Self.service(ports: #"[{"name":"p"}]"#)) == "default/web: spec.ports[0].port: is required")
        let externalName = #"{"metadata":{"name":"e","namespace":"d"},"spec":{"type":"ExternalName"}}"#
        #expect(error(decoding: externalName) == "d/e: spec.externalName: is required for type ExternalName")
    }

    @Test func malformedJSON() throws {
        let message = try #require(error(decoding: #"{"metadata":{"name":"web""#))
        #expect(message.hasPrefix("The given data was not valid JSON"))
        #expect(error(decoding: "") != nil)
        #expect(error(decoding: "null") != nil)
        #expect(error(decoding: "[]") != nil)
    }

    @Test func unknownFieldsAreIgnored() {
        let json = Self.service(extra: #","someFutureField":{"deep":[1,2,3]},"selector":{"app":"web"}"#)
        #expect(error(decoding: json) == nil)
    }

    @Test func tenMegabyteObjectDecodesWithoutTrouble() throws {
        let huge = String(repeating: "x", count: 10 << 20)
        let json = #"{"metadata":{"name":"big","namespace":"default","annotations":{"blob":"\#(huge)"}},"spec":{"clusterIP":"10.96.0.9","ports":[{"port":80}]}}"#
        let service = try KubeDecoder.decode(Service.self, fromJSON: Data(json.utf8))
        #expect(service.metadata.annotations["blob"]?.count == 10 << 20)
        // The same object with a bad field still names it, and the message stays short.
        let bad = json.replacingOccurrences(of: #""port":80"#, with: #""port":99999"#)
        let message = try #require(error(decoding: bad))
        #expect(message == "default/big: spec.ports[0].port: 99999 is not a valid port")
    }

    @Test func hugeBadValueIsCutShortInTheMessage() throws {
        let long = String(repeating: "9", count: 5000)
        let message = try #require(error(decoding: #"{"metadata":{"name":"w","namespace":"d"},"spec":{"clusterIP":"\#(long)"}}"#))
        #expect(message.count < 200)
    }

    @Test func affinityTimeoutRange() {
        let json = Self.service(extra: #","sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":0}}"#)
        #expect(error(decoding: json) == "default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 is not between 1 and 86400 seconds")
    }
}
