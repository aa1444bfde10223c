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
        #expect(Tiling(M: M, N: N, K: K).count > 4, "the shape must make several tiles")
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

    /// Tiles cover the output exactly once, for products small and large.
    @Test(arguments: [(1, 1, 1), (17, 5, 3), (300, 64, 4_000), (512, 50_257, 768), (2_304, 768, 2_048)])
    func tilesCoverTheOutputOnce(M: Int, N: Int, K: Int) {
        let tiling = Tiling(M: M, N: N, K: K)
        var covered = 0
        var rowStarts = Set<Int>(), columnStarts = Set<Int>()
        for k in 0..<tiling.count {
            let (rows, columns) = tiling.tile(k)
            #expect(!rows.isEmpty && !columns.isEmpty && rows.upperBound <= M && columns.upperBound <= N)
            covered += rows.count * columns.count
            rowStarts.insert(rows.lowerBound)
            columnStarts.insert(columns.lowerBound)
        }
        #expect(covered == M * N)
        #expect(rowStarts.count * columnStarts.count == tiling.count)
        #expect(tiling.count < 1 << 16)
    }
}
