import Foundation
import KubeModel
import Testing

/// Mutates valid API objects at random and decodes them: every outcome must be a value or an error.
@Suite("Randomised mutation of valid objects")
struct MutationFuzzTests {
    /// A small deterministic generator so a failure can be replayed from its seed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static var replacements: [Any] {
        [
        NSNull(), 0, -1, 65536, 70000, Int64.max, 1.5, true, "", "None", "::", "10.0.0.300", "x",
            String(repeating: "a", count: 300), [Any](), [String: Any](), ["nested": ["deep": [1, 2]]], [1, "two"],
        ]
    }

    /// Replaces, removes or retypes one randomly chosen value somewhere in the JSON tree.
    static func mutate(_ value: Any, using rng: inout SplitMix, depth: Int = 0) -> Any {
        if var object = value as? [String: Any], !object.isEmpty {
            let key = object.keys.sorted()[Int.random(in: 0..<object.count, using: &rng)]
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: object.removeValue(forKey: key)
            case 1: object[key] = replacements.randomElement(using: &rng)!
            default: object[key] = mutate(object[key]!, using: &rng, depth: depth + 1)
            }
            return object
        }
        if var array = value as? [Any], !array.isEmpty {
            let index = Int.random(in: 0..<array.count, using: &rng)
            if Bool.random(using: &rng) {
                array[index] = mutate(array[index], using: &rng, depth: depth + 1)
            } else {
                array.append(array[index])
            }
            return array
        }
        return replacements.randomElement(using: &rng)!
    }

    func run<T: Decodable>(_ type: T.Type, seeds: [Data], iterations: Int) throws {
        var rng = SplitMix(state: 20261122)
        var decoded = 0
        var rejected = 0
        for iteration in 0..<iterations {
            let seed = seeds[iteration % seeds.count]
            var value = try JSONSerialization.jsonObject(with: seed)
            for _ in 0..<Int.random(in: 1...3, using: &rng) { value = Self.mutate(value, using: &rng) }
            let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])
            do {
                _ = try KubeDecoder.decode(T.self, fromJSON: data)
                decoded += 1
            } catch {
                #expect(!error.message.isEmpty)
                rejected += 1
            }
        }
        // Both outcomes must occur, or the mutations are not exercising anything.
        #expect(decoded > 0)
        #expect(rejected > 0)
    }

    static func items(_ file: String) throws -> [Data] {
        let list = try JSONSerialization.jsonObject(with: Fixture.data(file)) as! [String: Any]
        return try (list["items"] as! [Any]).map { try JSONSerialization.data(withJSONObject: $0) }
    }

    @Test func services() throws {
        try run(Service.self, seeds: Self.items("services-list.json"), iterations: 3000)
    }

    @Test func endpointSlices() throws {
        try run(EndpointSlice.self, seeds: Self.items("endpointslices-v1beta1-list.json"), iterations: 3000)
    }

    @Test func nodes() throws {
        try run(Node.self, seeds: Self.items("nodes-list.json"), iterations: 1000)
    }

    @Test func watchEvents() throws {
        try run(WatchEvent<Service>.self, seeds: Fixture.lines("services-watch-stream.jsonl"), iterations: 2000)
    }

    @Test func randomBytesNeverTrap() {
        var rng = SplitMix(state: 7)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(throws: ObjectDecodingError.self) {
                _ = try KubeDecoder.decode(Service.self, fromJSON: Data(bytes))
            }
        }
    }
}
