/// Rows `rows` of a `WeightMatrix`: [rows.count, columns], the operand of a product that takes
/// part of a weight (the V block of a layer's q|k|v, one layer's or one head's rows of the
/// stacked cross K|V, a block of lm_head's vocabulary rows).
///
/// A tile only names the rows; `GEMM` reads them, in place when the matrix is kept as F32 and
/// widened slice by slice into a thread's scratch otherwise, as it does for whole matrices. So
/// the scorer never reads weight elements around a product, and a new weight type changes
/// `WeightMatrix` (how it is stored and widened) and `GEMM` (how a product reads it) only.
struct WeightTile {
    let matrix: WeightMatrix
    /// rows of `matrix`, within 0 ..< matrix.rows
    let rows: Range<Int>

    var count: Int { rows.count }
    var columns: Int { matrix.columns }
}

extension WeightMatrix {
    /// Rows `range` (within 0 ..< rows) as a tile for `GEMM`.
    func tile(rows range: Range<Int>) -> WeightTile {
        WeightTile(matrix: self, rows: range)
    }
}
