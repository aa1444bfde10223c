import CKernels
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
        var covered = [Int](repeating: 0, count: M * N)
        for (rows, columns) in tiling.tiles {
            #expect(!rows.isEmpty && !columns.isEmpty && rows.upperBound <= M && columns.upperBound <= N)
            for r in rows { for c in columns { covered[r * N + c] += 1 } }
        }
        #expect(covered.allSatisfy { $0 == 1 })
        #expect(tiling.count < 1 << 16)
    }

    /// The packed gemm, for every weight type and instruction set: each
    /// element is exactly one chain of fused multiply-adds over k in order
    /// (from zero, or from C's value when accumulating), computed here with
    /// the weights as the test decodes them from the formats' definitions.
    /// Shapes cut across the register blocks (6 rows, 16 columns) and the
    /// cache blocks of K (256).
    @Test(arguments: WeightKernelTests.types)
    func gemmIsOneMultiplyAddChainPerElement(type: gpt_type) {
        // 97 rows cross the 96-row cache block of A.
        for (rows, N, K, first, last) in [(23, 37, 544, 0, 37), (6, 16, 32, 0, 16), (1, 70, 288, 5, 69), (40, 128, 768, 64, 128),
                                          (64, 45, 288, 3, 44), (65, 37, 544, 0, 37), (97, 130, 288, 2, 130)] {
            var random = Xoshiro256StarStar(seed: UInt64(rows * 31 + K))
            func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.next() % 20001) / 10000 - 1 } }
            let a = values(rows * K), start = values(rows * N)
            let encoded = Encoded(type: type, weights: values(N * K), columns: K)
            let w = encoded.decoded()
            var packed = [Float](repeating: .nan, count: gpt_gemm_packed_floats(Int32(rows), Int32(K)))
            gpt_gemm_pack(a, Int32(K), Int32(rows), Int32(K), &packed)
            for accumulate in [false, true] {
                var expected = start
                for m in 0..<rows {
                    for n in first..<last {
                        var sum: Float = accumulate ? start[m * N + n] : 0
                        for k in 0..<K { sum = sum.addingProduct(a[m * K + k], w[n * K + k]) }
                        expected[m * N + n] = sum
                    }
                }
                // q8_0 and q4_0 also in the engine's interleaved layout.
                let blockType = type == GPT_TYPE_Q8_0 || type == GPT_TYPE_Q4_0
                let layouts = [(type, encoded.bytes)] + (blockType ? [encoded.interleaved(rows: N)] : [])
                for (layout, bytes) in layouts {
                    for isa in WeightKernelTests.instructionSets {
                        var out = start
                        var scratch = [Float](repeating: .nan, count: gpt_gemm_scratch_floats())
                        gpt_gemm_isa(isa, layout, packed, Int32(rows), Int32(K), bytes, Int32(first), Int32(last), &out,
                                     Int32(N), accumulate ? 1 : 0, &scratch)
                        #expect(out == expected, "\(layout) isa \(isa) rows \(rows) N \(N) K \(K) columns \(first)..<\(last) accumulate \(accumulate)")
                    }
                }
            }
        }
    }

    /// The pool's gemm over segments of rows (as a multi-sequence pass has
    /// them, short rows between that it must leave alone), on 1 to 3
    /// threads: each segment's rows get the bits of the plain chains, that
    /// is, of the segment alone.
    @Test func segmentsGetTheBitsOfTheirRowsAlone() {
        let (N, K) = (200, 320)
        let segments = [0..<40, 41..<58, 58..<87, 99..<169]  // rows 40 and 87..<99 are not the gemm's
        let M = 169
        var random = Xoshiro256StarStar(seed: 5)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.next() % 2001) / 1000 - 1 } }
        let a = values(M * K), bias = values(M * N)
        let halves = values(N * K).map(Float16.init)
        let w = halves.map(Float.init)
        var expected = bias
        for segment in segments {
            for m in segment {
                for n in 0..<N {
                    var sum = bias[m * N + n]
                    for k in 0..<K { sum = sum.addingProduct(a[m * K + k], w[n * K + k]) }
                    expected[m * N + n] = sum
                }
            }
        }
        halves.withUnsafeBytes { raw in
            let weight = StoredTensor(type: .f16, data: raw.baseAddress!)
            for threads in [1, 2, 3] {
                let pool = WorkerPool(threads: threads)
                var out = bias
                let packed = UnsafeMutablePointer<Float>.allocate(capacity: PackedRows.floats(segments: segments, K: K))
                let workspace = UnsafeMutablePointer<Float>.allocate(capacity: threads * gpt_gemm_scratch_floats())
                defer { packed.deallocate(); workspace.deallocate() }
                pool.gemm(a, weight, &out, N: N, K: K, segments: segments, accumulate: true, packed: packed, workspace: workspace)
                #expect(out == expected, "\(threads) threads")
            }
        }
    }
}
