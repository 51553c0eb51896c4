import CBLAS

/// Matrix products through OpenBLAS.
enum BLAS {
    /// One thread per process unless OPENBLAS_NUM_THREADS says otherwise: the matrices here are small and the
    /// machines have few cores, so threading costs more than it gains.
    static let configured: Bool = {
        if getenvValue("OPENBLAS_NUM_THREADS") == nil { openblas_set_num_threads(1) }
        return true
    }()

    /// c = alpha * op(a) * op(b) + beta * c, where op transposes when asked.
    static func gemm(
        _ a: Tensor, transposeA: Bool = false, _ b: Tensor, transposeB: Bool = false, into c: inout Tensor,
        alpha: Float = 1, beta: Float = 0
    ) {
        _ = configured
        let m = transposeA ? a.columns : a.rows
        let k = transposeA ? a.rows : a.columns
        let n = transposeB ? b.rows : b.columns
        precondition(
            k == (transposeB ? b.columns : b.rows), "gemm: inner dimensions \(k) and \(transposeB ? b.columns : b.rows)"
        )
        if beta == 0 && (c.rows != m || c.columns != n) { c = Tensor(uninitializedRows: m, columns: n) }
        precondition(c.rows == m && c.columns == n)
        guard m > 0 && n > 0 else { return }
        if k == 0 {
            for i in c.scalars.indices { c.scalars[i] *= beta }
            return
        }
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                c.scalars.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, pa.baseAddress, Int32(a.columns), pb.baseAddress,
                        Int32(b.columns), beta, pc.baseAddress, Int32(n))
                }
            }
        }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func getenvValue(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
