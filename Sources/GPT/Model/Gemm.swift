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
/// so every element is computed in the same order whatever the tiling or
/// the thread count: the same bits with one thread or many.
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
            let (rows, columns) = tiling.tile(k)
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
                       beta: Float = 0, _ C: UnsafeMutablePointer<Float>) {
        guard M > 0, N > 0 else { return }
        let tiling = Tiling(M: M, N: N, K: K)
        // One buffer per worker, reused for each tile it takes: fresh memory per
        // tile would cost page faults on every tile.
        let buffers = UnsafeMutablePointer<Float>.allocate(capacity: threads * tiling.columnsPerTile * K)
        defer { buffers.deallocate() }
        forEachChunk(tiling.count) { k, worker in
            let (rows, columns) = tiling.tile(k)
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
/// two threads balance and a descheduled thread holds up little.
struct Tiling {
    let M: Int, N: Int
    let rowsPerTile: Int, columnsPerTile: Int
    let rowTiles: Int, columnTiles: Int

    init(M: Int, N: Int, K: Int) {
        self.M = M
        self.N = N
        rowTiles = (M + 255) / 256
        rowsPerTile = (M + rowTiles - 1) / rowTiles
        let columns = (1 << 24) / max(1, rowsPerTile * K)
        columnsPerTile = min(N, max(16, columns / 16 * 16))
        columnTiles = (N + columnsPerTile - 1) / columnsPerTile
    }

    var count: Int { rowTiles * columnTiles }

    func tile(_ k: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let (r, c) = k.quotientAndRemainder(dividingBy: columnTiles)
        return (r * rowsPerTile..<min(M, (r + 1) * rowsPerTile), c * columnsPerTile..<min(N, (c + 1) * columnsPerTile))
    }
}
