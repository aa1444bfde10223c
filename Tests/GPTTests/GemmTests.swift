import Testing
@testable import GPT

@Suite struct GemmTests {
    /// op(A) · op(B) for every combination of transposes, on shapes that make
    /// several row and column tiles, against a plain triple loop; the same
    /// bits for any thread count, because tiles never split the sum over K.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func tiledProductMatchesPlainLoops(transposeA: Bool, transposeB: Bool) {
        let (M, N, K) = (300, 64, 4_000)
        var random = Xoshiro256StarStar(seed: 3)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.next() % 2001) / 1000 - 1 } }
        let a = values(M * K), b = values(K * N), c = values(M * N)
        let (lda, ldb) = (transposeA ? M : K, transposeB ? K : N)
        var plain = c
        for i in 0..<M {
            for j in 0..<N {
                var sum: Double = 0
                for k in 0..<K {
                    sum += Double(transposeA ? a[k * M + i] : a[i * K + k]) * Double(transposeB ? b[j * K + k] : b[k * N + j])
                }
                plain[i * N + j] = Float(0.5 * sum + 2 * Double(c[i * N + j]))
            }
        }
        #expect(Tiling(segments: [0..<M], N: N, K: K).count > 4, "the shape must make several tiles")
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            var fast = c
            WorkerPool(threads: threads).sgemm(transposeA: transposeA, transposeB: transposeB, M: M, N: N, K: K,
                                               alpha: 0.5, a, lda: lda, b, ldb: ldb, beta: 2, &fast, ldc: N)
            #expect(zip(fast, plain).map { abs($0 - $1) }.max()! < 1e-2)
            results.append(fast)
        }
        #expect(results[1] == results[0] && results[2] == results[0])
    }

    /// Tiles cover the output exactly once, for products small and large, and
    /// never straddle two segments of rows.
    @Test(arguments: [(1, 1, 1), (17, 5, 3), (300, 64, 4_000), (512, 50_257, 768), (2_304, 768, 2_048)])
    func tilesCoverTheOutputOnce(M: Int, N: Int, K: Int) {
        for segments in [[0..<M], [0..<M / 3, M / 3..<M / 3 + 1, M / 3 + 1..<M]] {
            let tiling = Tiling(segments: segments, N: N, K: K)
            var covered = 0
            for (rows, columns) in tiling.tiles {
                #expect(!rows.isEmpty && !columns.isEmpty && rows.upperBound <= M && columns.upperBound <= N)
                #expect(columns.count <= tiling.columnsPerTile)
                #expect(segments.contains { $0.contains(rows.lowerBound) && $0.contains(rows.upperBound - 1) })
                covered += rows.count * columns.count
            }
            #expect(covered == M * N)
            #expect(tiling.count < 1 << 16)
        }
    }

    /// Each segment of a product's rows gets the bits of its own product
    /// alone, in any company, with f32 weights and widened ones (a
    /// multi-sequence pass relies on it; OpenBLAS alone rounds a row by its
    /// place in the call).
    @Test func segmentsGetTheBitsOfTheirProductAlone() {
        let (N, K) = (96, 200)
        let lengths = [40, 1, 17, 29, 12, 70]
        let M = lengths.reduce(0, +)
        var random = Xoshiro256StarStar(seed: 5)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.next() % 2001) / 1000 - 1 } }
        let a = values(M * K), w = values(N * K)
        var segments: [Range<Int>] = []
        for length in lengths { segments.append((segments.last?.upperBound ?? 0) ..< (segments.last?.upperBound ?? 0) + length) }
        let pool = WorkerPool(threads: 2)
        let halves = w.map(Float16.init)
        halves.withUnsafeBytes { raw in
            let widened = StoredTensor(type: .f16, data: raw.baseAddress!)
            var together = [Float](repeating: 0, count: M * N), togetherWidened = together
            pool.sgemm(transposeB: true, M: M, N: N, K: K, a, lda: K, w, ldb: K, &together, ldc: N, segments: segments)
            pool.sgemm(M: M, N: N, K: K, a, widening: widened, &togetherWidened, segments: segments)
            for segment in segments {
                let rows = Array(a[segment.lowerBound * K ..< segment.upperBound * K])
                var alone = [Float](repeating: 0, count: segment.count * N), aloneWidened = alone
                pool.sgemm(transposeB: true, M: segment.count, N: N, K: K, rows, lda: K, w, ldb: K, &alone, ldc: N)
                pool.sgemm(M: segment.count, N: N, K: K, rows, widening: widened, &aloneWidened)
                let part = segment.lowerBound * N ..< segment.upperBound * N
                let (same, sameWidened) = (Array(together[part]) == alone, Array(togetherWidened[part]) == aloneWidened)
                #expect(same, "segment \(segment)")
                #expect(sameWidened, "segment \(segment), f16 weights")
            }
        }
    }
}
