import Testing
@testable import GPT

@Suite struct RandomTests {
    /// Values from a separate Python implementation of SplitMix64 + xoshiro256**.
    @Test func matchesIndependentImplementation() {
        var zero = Xoshiro256StarStar(seed: 0)
        #expect((0..<4).map { _ in zero.next() } == [0x99ec5f36cb75f2b4, 0xbf6e1f784956452a, 0x1a5f849d4933e6e0, 0x6aa594f1262d2d2c])
        var fortyTwo = Xoshiro256StarStar(seed: 42)
        #expect((0..<4).map { _ in fortyTwo.next() } == [0x15780b2e0c2ec716, 0x6104d9866d113a7e, 0xae17533239e499a1, 0xecb8ad4703b360a1])
    }

    @Test func unitIsInHalfOpenInterval() {
        var random = Xoshiro256StarStar(seed: 3)
        var sum = 0.0
        for _ in 0..<100_000 {
            let u = random.nextUnit()
            #expect(u >= 0 && u < 1)
            sum += u
        }
        #expect(abs(sum / 100_000 - 0.5) < 0.01)
    }
}
