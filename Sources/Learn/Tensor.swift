/// A rank-2 float32 tensor (rows x columns, row-major): a batch of samples, each a row of features.
public struct Tensor: Sendable, Equatable {
    public private(set) var rows: Int
    public private(set) var columns: Int
    public var scalars: [Float]

    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && columns >= 0)
        self.rows = rows
        self.columns = columns
        self.scalars = [Float](repeating: value, count: rows * columns)
    }

    public init(rows: Int, columns: Int, scalars: [Float]) {
        precondition(scalars.count == rows * columns, "\(scalars.count) scalars for a \(rows)x\(columns) tensor")
        self.rows = rows
        self.columns = columns
        self.scalars = scalars
    }

    /// A tensor whose contents the caller writes completely before reading (skips zero-filling).
    init(uninitializedRows rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        self.scalars = [Float](unsafeUninitializedCapacity: rows * columns) { _, count in count = rows * columns }
    }

    /// One row per inner array; all rows must have the same length.
    public init(_ rowsOfScalars: [[Float]]) {
        let columns = rowsOfScalars.first?.count ?? 0
        precondition(rowsOfScalars.allSatisfy { $0.count == columns }, "rows of different lengths")
        self.init(rows: rowsOfScalars.count, columns: columns, scalars: rowsOfScalars.flatMap { $0 })
    }

    public var shape: [Int] { [rows, columns] }

    /// Makes the tensor `rows` rows tall, keeping its storage: no allocation when it shrinks, or grows back within
    /// the storage it had. Rows kept keep their values; new rows are zero.
    mutating func resize(rows newRows: Int) {
        let count = newRows * columns
        if scalars.count > count {
            scalars.removeLast(scalars.count - count)
        } else if scalars.count < count {
            scalars.append(contentsOf: repeatElement(0, count: count - scalars.count))
        }
        rows = newRows
    }

    public subscript(row: Int, column: Int) -> Float {
        get { scalars[row * columns + column] }
        set { scalars[row * columns + column] = newValue }
    }

    public func row(_ i: Int) -> [Float] { Array(scalars[i * columns..<(i + 1) * columns]) }

    /// The rows at `indices`, in that order.
    public func gathering(rows indices: some Collection<Int>) -> Tensor {
        var out = Tensor(rows: indices.count, columns: columns)
        out.scalars.withUnsafeMutableBufferPointer { dst in
            scalars.withUnsafeBufferPointer { src in
                var r = 0
                for i in indices {
                    for c in 0..<columns { dst[r * columns + c] = src[i * columns + c] }
                    r += 1
                }
            }
        }
        return out
    }

}
