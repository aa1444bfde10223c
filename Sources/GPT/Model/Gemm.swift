import CBLAS
import CKernels

/// Matrix products of many rows on the worker pool.
///
/// Training's products (with transposes, f32) are cut into tiles that the
/// pool's threads claim one at a time, each one single-threaded OpenBLAS
/// sgemm: OpenBLAS brings its packed, register-blocked kernels, the pool
/// brings threads that never wait for one another. (OpenBLAS's own threads
/// spin until all of them arrive, so one thread that the OS takes away
/// stalls the whole product: 2-thread prefill fell to a tenth with one busy
/// neighbour.) Tiles split only rows and columns of the output, never the
/// sum over K, so every element is computed in the same order whatever the
/// thread count: the same bits with one thread or many.
///
/// Prefill's products go through CKernels' own gpt_gemm instead (below):
/// it reads every weight type, packs the prompt's rows once for all tiles
/// (OpenBLAS repacked them for every tile: a fifth of prefill's time), and
/// sums every element the same way wherever it sits, so a sequence gets the
/// same bits beside any other (OpenBLAS rounds a row by its place in the
/// call: its kernel takes rows in groups of 12 and the two halves of a
/// group differently).
extension WorkerPool {
    /// C (M, N) = alpha · op(A) · op(B) + beta · C, row-major, where op(A) is
    /// (M, K) (A itself, or Aᵀ when `transposeA`) and op(B) is (K, N).
    package func sgemm(transposeA: Bool = false, transposeB: Bool = false, M: Int, N: Int, K: Int,
                       alpha: Float = 1, _ A: UnsafePointer<Float>, lda: Int,
                       _ B: UnsafePointer<Float>, ldb: Int,
                       beta: Float = 0, _ C: UnsafeMutablePointer<Float>, ldc: Int) {
        guard M > 0, N > 0 else { return }
        let tiling = Tiling(M: M, N: N, K: K)
        forEachChunk(tiling.count) { k in
            let (rows, columns) = tiling.tiles[k]
            // Where the tile's rows of op(A) and columns of op(B) start.
            let a = transposeA ? A + rows.lowerBound : A + rows.lowerBound * lda
            let b = transposeB ? B + columns.lowerBound * ldb : B + columns.lowerBound
            cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(columns.count), Int32(K), alpha, a, Int32(lda), b, Int32(ldb),
                        beta, C + rows.lowerBound * ldc + columns.lowerBound, Int32(ldc))
        }
    }
}

/// The rows of a product's multi-row segments, packed for CKernels' gpt_gemm
/// (prefill): the activations side of `C = A · Wᵀ`, packed once and then
/// multiplied by any column range of any weight matrix, a tile at a time.
/// Every element is one chain of multiply-adds over K in order, so a row
/// gets the same bits whatever the other rows, the tiles or the threads.
struct PackedRows {
    let segments: [Range<Int>]
    let K: Int
    private let packed: UnsafeMutablePointer<Float>
    /// Where each segment's packed rows start.
    private let offsets: [Int]

    /// Floats that packing `segments` of K columns takes.
    static func floats(segments: [Range<Int>], K: Int) -> Int {
        segments.reduce(0) { $0 + gpt_gemm_packed_floats(Int32($1.count), Int32(K)) }
    }

    /// Packs rows `segments` of A (…, K) into `packed` (``floats(segments:K:)``), in chunks of the pool.
    init(_ A: UnsafePointer<Float>, K: Int, segments: [Range<Int>], into packed: UnsafeMutablePointer<Float>,
         pool: WorkerPool) {
        self.segments = segments
        self.K = K
        self.packed = packed
        let groupRows = Int(GPT_GEMM_ROWS)
        var offsets: [Int] = [], groups: [(segment: Int, first: Int)] = []
        var offset = 0
        for (index, rows) in segments.enumerated() {
            offsets.append(offset)
            for first in stride(from: rows.lowerBound, to: rows.upperBound, by: groupRows) { groups.append((index, first)) }
            offset += gpt_gemm_packed_floats(Int32(rows.count), Int32(K))
        }
        self.offsets = offsets
        pool.forEachRange(groups.count, grain: max(1, (1 << 16) / (groupRows * K))) { range in
            for (index, first) in groups[range] {
                let rows = segments[index]
                gpt_gemm_pack(A + first * K, Int32(K), Int32(min(groupRows, rows.upperBound - first)), Int32(K),
                              packed + offsets[index] + (first - rows.lowerBound) * K)
            }
        }
    }

    /// Columns `columns` of C (…, N) = the rows · Wᵀ (plus C's own value when
    /// `accumulate`: a bias put there), W (N, K) in its stored type.
    /// `workspace`: `gpt_gemm_scratch_floats()` floats of the calling thread's own.
    func multiply(_ weight: StoredTensor, columns: Range<Int>, into C: UnsafeMutablePointer<Float>, N: Int,
                  accumulate: Bool, workspace: UnsafeMutablePointer<Float>) {
        for (index, rows) in segments.enumerated() {
            gpt_gemm(weight.kernelType, packed + offsets[index], Int32(rows.count), Int32(K), weight.data,
                     Int32(columns.lowerBound), Int32(columns.upperBound), C + rows.lowerBound * N, Int32(N),
                     accumulate ? 1 : 0, workspace)
        }
    }

    /// Columns per tile when a product is cut for the pool: four packed panels,
    /// few enough that a tile's weights stay in L2 for every segment's rows.
    static let tileColumns = 64
}

extension WorkerPool {
    /// Rows `segments` of C (…, N) = the same rows of A (…, K) · Wᵀ (plus C's
    /// own value when `accumulate`), through ``PackedRows``: each tile of
    /// ``PackedRows/tileColumns`` columns is a chunk.
    ///
    /// - packed: room for ``PackedRows/floats(segments:K:)`` floats.
    /// - workspace: `gpt_gemm_scratch_floats()` floats for each of the pool's threads.
    package func gemm(_ A: UnsafePointer<Float>, _ weight: StoredTensor, _ C: UnsafeMutablePointer<Float>, N: Int,
                      K: Int, segments: [Range<Int>], accumulate: Bool, packed: UnsafeMutablePointer<Float>,
                      workspace: UnsafeMutablePointer<Float>) {
        let rows = PackedRows(A, K: K, segments: segments, into: packed, pool: self)
        let tiles = Array(stride(from: 0, to: N, by: PackedRows.tileColumns))
        forEachChunk(tiles.count) { k, worker in
            rows.multiply(weight, columns: tiles[k] ..< min(N, tiles[k] + PackedRows.tileColumns), into: C, N: N,
                          accumulate: accumulate, workspace: workspace + worker * gpt_gemm_scratch_floats())
        }
    }
}

/// How an sgemm's output is cut into tiles: up to 256 rows by a multiple
/// of 16 columns, about 16M multiply-adds each (~0.2 ms on one core here):
/// large enough that packing A and B costs a few percent, small enough that
/// two threads balance and a descheduled thread holds up little.
struct Tiling {
    let tiles: [(rows: Range<Int>, columns: Range<Int>)]

    init(M: Int, N: Int, K: Int) {
        var tiles: [(rows: Range<Int>, columns: Range<Int>)] = []
        let rowTiles = (M + 255) / 256
        let rowsPerTile = (M + rowTiles - 1) / rowTiles
        let columnsPerTile = min(N, max(16, (1 << 24) / max(1, rowsPerTile * K) / 16 * 16))
        for first in stride(from: 0, to: M, by: rowsPerTile) {
            for column in stride(from: 0, to: N, by: columnsPerTile) {
                tiles.append((first..<min(M, first + rowsPerTile), column..<min(N, column + columnsPerTile)))
            }
        }
        self.tiles = tiles
    }

    var count: Int { tiles.count }
}
