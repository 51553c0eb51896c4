/// How a value is laid out in registers: its type and the order of its bytes (A: the most significant).
public enum ModbusValueType: String, Sendable, CaseIterable {
    case bool, int16, uint16, int32, uint32, float32

    /// Registers it takes (a bool is one coil or discrete input, or a register that is not 0).
    public var registers: Int {
        switch self {
        case .bool, .int16, .uint16: 1
        case .int32, .uint32, .float32: 2
        }
    }
}

/// Byte order of a 32-bit value over two registers (a 16-bit one uses the first two letters: AB or BA). ABCD: big
/// endian, the high word first (the specification's); CDAB: the low word first (many PLCs); BADC and DCBA: the bytes
/// of each register swapped.
public enum ModbusByteOrder: String, Sendable, CaseIterable {
    case abcd = "ABCD"
    case cdab = "CDAB"
    case badc = "BADC"
    case dcba = "DCBA"
}

/// One data point: where it is and how to read it; the value is `raw * scale + offset`.
public struct ModbusPoint: Sendable, Equatable {
    public var table: ModbusTable
    public var address: UInt16
    public var type: ModbusValueType
    public var order: ModbusByteOrder
    public var scale: Double
    public var offset: Double

    public init(
        table: ModbusTable, address: UInt16, type: ModbusValueType = .uint16, order: ModbusByteOrder = .abcd,
        scale: Double = 1, offset: Double = 0
    ) {
        self.table = table
        self.address = address
        self.type = table.isBits ? .bool : type
        self.order = order
        self.scale = scale
        self.offset = offset
    }

    /// Items it covers in its table.
    public var count: Int { table.isBits ? 1 : type.registers }

    /// The value from its registers (`registers.count == count`).
    public func value(registers: [UInt16]) -> Double {
        raw(registers) * scale + offset
    }

    public func value(bit: Bool) -> Double { (bit ? 1 : 0) * scale + offset }

    private func bytes(_ registers: [UInt16]) -> [UInt8] {
        let b = registers.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        switch order {
        case .abcd: return b
        case .dcba: return b.reversed()
        case .badc: return b.count == 4 ? [b[1], b[0], b[3], b[2]] : [b[1], b[0]]
        case .cdab: return b.count == 4 ? [b[2], b[3], b[0], b[1]] : b
        }
    }

    private func raw(_ registers: [UInt16]) -> Double {
        let b = bytes(registers)
        let u = b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        switch type {
        case .bool: return u != 0 ? 1 : 0
        case .uint16: return Double(UInt16(u))
        case .int16: return Double(Int16(bitPattern: UInt16(u)))
        case .uint32: return Double(u)
        case .int32: return Double(Int32(bitPattern: u))
        case .float32: return Double(Float(bitPattern: u))
        }
    }

    /// The registers that hold `value` (scaled back), for a write; an error when it does not fit the type.
    public func registers(for value: Double) throws(ModbusError) -> [UInt16] {
        let raw = (value - offset) / scale
        let u: UInt32
        switch type {
        case .bool: u = raw != 0 ? 1 : 0
        case .uint16, .int16, .uint32, .int32:
            let r = raw.rounded()
            let range: ClosedRange<Double> =
                switch type {
                case .uint16: 0...65535
                case .int16: -32768...32767
                case .uint32: 0...4_294_967_295
                default: -2_147_483_648...2_147_483_647
                }
            guard range.contains(r) else { throw ModbusError("\(value) does not fit a \(type.rawValue)") }
            u =
                type == .int16
                ? UInt32(UInt16(bitPattern: Int16(r))) : type == .int32 ? UInt32(bitPattern: Int32(r)) : UInt32(r)
        case .float32: u = Float(raw).bitPattern
        }
        let n = type.registers
        var b = (0..<n * 2).map { UInt8(truncatingIfNeeded: u >> (8 * UInt32(n * 2 - 1 - $0))) }
        // The inverse of `bytes`: every order is its own inverse.
        switch order {
        case .abcd: break
        case .dcba: b.reverse()
        case .badc: b = b.count == 4 ? [b[1], b[0], b[3], b[2]] : [b[1], b[0]]
        case .cdab: if b.count == 4 { b = [b[2], b[3], b[0], b[1]] }
        }
        return stride(from: 0, to: b.count, by: 2).map { UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]) }
    }
}
