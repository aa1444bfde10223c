import CBLAS
import CKernels

/// Matrix products of many rows (prompts, training) on the worker pool.
///
/// The output is cut into tiles that the pool's threads claim one at a
/// time, and each tile is one single-threaded OpenBLAS sgemm: OpenBLAS
/// brings its packed, register-blocked kernels, the pool brings threads
/// that never wait for one another. (OpenBLAS's own threads spin until all
/// of them arrive, so one thread that the OS takes away stalls the whole
/// product: 2-thread prefill fell to a tenth with one busy neighbour.)
/// Tiles split only rows and columns of the output, never the sum over K,
/// so every element is computed in the same order whatever the thread count:
/// the same bits with one thread or many.
///
/// A product's rows may come in segments (the sequences of a multi-sequence
/// pass), each tiled as if it were the whole product: OpenBLAS rounds a row
/// by its place in the call (measured: its kernel handles rows in groups of
/// 12, and the halves of a group differently), so a row gets the bits it
/// would get in its segment alone only if its segment's tiles are the same.
extension WorkerPool {
    /// C (M, N) = alpha · op(A) · op(B) + beta · C, row-major, where op(A) is
    /// (M, K) (A itself, or Aᵀ when `transposeA`) and op(B) is (K, N).
    /// `segments` (default: all M rows as one) partition the rows of C.
    package func sgemm(transposeA: Bool = false, transposeB: Bool = false, M: Int, N: Int, K: Int,
                       alpha: Float = 1, _ A: UnsafePointer<Float>, lda: Int,
                       _ B: UnsafePointer<Float>, ldb: Int,
                       beta: Float = 0, _ C: UnsafeMutablePointer<Float>, ldc: Int, segments: [Range<Int>]? = nil) {
        guard M > 0, N > 0 else { return }
        let tiling = Tiling(segments: segments ?? [0..<M], N: N, K: K)
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

extension WorkerPool {
    /// C (M, N) = A (M, K) · Wᵀ + beta · C, row-major, where W (N, K) is
    /// stored as `weight.type`: each tile first widens its N-slice of W to
    /// floats (K values a row), then runs sgemm on them. Widening costs K per
    /// row of W, the tile's product K per row of W and row of A: little for
    /// the many rows of a prompt.
    package func sgemm(M: Int, N: Int, K: Int, _ A: UnsafePointer<Float>, widening weight: StoredTensor,
                       beta: Float = 0, _ C: UnsafeMutablePointer<Float>, segments: [Range<Int>]? = nil) {
        guard M > 0, N > 0 else { return }
        let tiling = Tiling(segments: segments ?? [0..<M], N: N, K: K)
        // One buffer per worker, reused for each tile it takes: fresh memory per
        // tile would cost page faults on every tile.
        let buffers = UnsafeMutablePointer<Float>.allocate(capacity: threads * tiling.columnsPerTile * K)
        defer { buffers.deallocate() }
        forEachChunk(tiling.count) { k, worker in
            let (rows, columns) = tiling.tiles[k]
            let widened = buffers + worker * tiling.columnsPerTile * K
            gpt_widen_rows(weight.type.kernelType, weight.data, widened, Int32(K),
                           Int32(columns.lowerBound), Int32(columns.upperBound))
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows.count), Int32(columns.count), Int32(K),
                        1, A + rows.lowerBound * K, Int32(K), widened, Int32(K),
                        beta, C + rows.lowerBound * N + columns.lowerBound, Int32(N))
        }
    }
}

/// How a product's output is cut into tiles: up to 256 rows by a multiple
/// of 16 columns, about 16M multiply-adds each (~0.2 ms on one core here):
/// large enough that packing A and B costs a few percent, small enough that
/// two threads balance and a descheduled thread holds up little. Each
/// segment of rows is tiled on its own, by its length alone.
struct Tiling {
    let tiles: [(rows: Range<Int>, columns: Range<Int>)]
    /// The widest tile's columns.
    let columnsPerTile: Int

    init(segments: [Range<Int>], N: Int, K: Int) {
        var tiles: [(rows: Range<Int>, columns: Range<Int>)] = []
        var widest = 0
        for segment in segments where !segment.isEmpty {
            let rowTiles = (segment.count + 255) / 256
            let rowsPerTile = (segment.count + rowTiles - 1) / rowTiles
            let columnsPerTile = min(N, max(16, (1 << 24) / max(1, rowsPerTile * K) / 16 * 16))
            widest = max(widest, columnsPerTile)
            for first in stride(from: segment.lowerBound, to: segment.upperBound, by: rowsPerTile) {
                for column in stride(from: 0, to: N, by: columnsPerTile) {
                    tiles.append((first..<min(segment.upperBound, first + rowsPerTile), column..<min(N, column + columnsPerTile)))
                }
            }
        }
        self.tiles = tiles
        columnsPerTile = widest
    }

    var count: Int { tiles.count }
}
