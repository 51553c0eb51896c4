public import NIOCore

/// Modbus application protocol (Modbus Application Protocol Specification v1.1b3) over TCP (Modbus Messaging on
/// TCP/IP Implementation Guide v1.0b): the MBAP header and the PDUs of the functions Millstream uses. No I/O.
public enum ModbusTable: String, Sendable, CaseIterable {
    /// Read-write bits (function 1 to read, 5 to write).
    case coils = "coil"
    /// Read-only bits (function 2).
    case discreteInputs = "discrete_input"
    /// Read-only 16-bit registers (function 4).
    case inputRegisters = "input"
    /// Read-write 16-bit registers (function 3 to read, 6 and 16 to write).
    case holdingRegisters = "holding"

    var readFunction: UInt8 {
        switch self {
        case .coils: 1
        case .discreteInputs: 2
        case .holdingRegisters: 3
        case .inputRegisters: 4
        }
    }

    /// The most items one read may ask for (spec 6.1 to 6.4).
    public var maximumPerRead: Int { isBits ? 2000 : 125 }
    public var isBits: Bool { self == .coils || self == .discreteInputs }
}

public enum ModbusRequest: Sendable, Equatable {
    case read(ModbusTable, address: UInt16, count: UInt16)
    case writeCoil(address: UInt16, value: Bool)
    case writeRegister(address: UInt16, value: UInt16)
    case writeRegisters(address: UInt16, values: [UInt16])

    public var function: UInt8 {
        switch self {
        case .read(let table, _, _): table.readFunction
        case .writeCoil: 5
        case .writeRegister: 6
        case .writeRegisters: 16
        }
    }

    /// The PDU: function code and data.
    public func write(to b: inout ByteBuffer) {
        b.writeInteger(function)
        switch self {
        case .read(_, let address, let count):
            b.writeInteger(address)
            b.writeInteger(count)
        case .writeCoil(let address, let value):
            b.writeInteger(address)
            b.writeInteger(value ? UInt16(0xFF00) : 0)
        case .writeRegister(let address, let value):
            b.writeInteger(address)
            b.writeInteger(value)
        case .writeRegisters(let address, let values):
            b.writeInteger(address)
            b.writeInteger(UInt16(values.count))
            b.writeInteger(UInt8(values.count * 2))
            for v in values { b.writeInteger(v) }
        }
    }
}

/// A device's answer: registers, bits, an acknowledged write, or an exception.
public enum ModbusResponse: Sendable, Equatable {
    case registers([UInt16])
    case bits([Bool])
    case written
    case exception(function: UInt8, code: UInt8)

    /// Reads the PDU answering `request` (`count` bits or registers were asked for).
    public static func read(_ b: inout ByteBuffer, answering request: ModbusRequest) throws(ModbusError) -> Self {
        guard let function: UInt8 = b.readInteger() else { throw ModbusError("an empty response") }
        if function == request.function | 0x80 {
            guard let code: UInt8 = b.readInteger() else { throw ModbusError("an exception without a code") }
            return .exception(function: request.function, code: code)
        }
        guard function == request.function else {
            throw ModbusError("a response to function \(function), expected \(request.function)")
        }
        switch request {
        case .read(let table, _, let count):
            guard let n: UInt8 = b.readInteger(), b.readableBytes == Int(n) else {
                throw ModbusError("a read response whose byte count does not match its data")
            }
            if table.isBits {
                guard Int(n) == (Int(count) + 7) / 8, let bytes = b.readBytes(length: Int(n)) else {
                    throw ModbusError("\(n) bytes of bits for \(count) bits asked")
                }
                return .bits((0..<Int(count)).map { bytes[$0 / 8] & (1 << ($0 % 8)) != 0 })
            }
            guard Int(n) == Int(count) * 2 else { throw ModbusError("\(n / 2) registers for \(count) asked") }
            return .registers((0..<Int(count)).map { _ in b.readInteger(as: UInt16.self)! })
        case .writeCoil, .writeRegister, .writeRegisters:
            // The echo of address and value (or quantity): 4 bytes.
            guard b.readableBytes == 4 else { throw ModbusError("a write response of \(b.readableBytes + 1) bytes") }
            b.moveReaderIndex(forwardBy: 4)
            return .written
        }
    }

    /// The exception code's name (spec 7).
    public static func exceptionName(_ code: UInt8) -> String {
        switch code {
        case 1: "illegal function"
        case 2: "illegal data address"
        case 3: "illegal data value"
        case 4: "server device failure"
        case 5: "acknowledge"
        case 6: "server device busy"
        case 8: "memory parity error"
        case 10: "gateway path unavailable"
        case 11: "gateway target device failed to respond"
        default: "exception \(code)"
        }
    }
}

/// A Modbus problem: what, and where (the endpoint, unit and address are in the message when known).
public struct ModbusError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// True for a lost connection or a timeout that a later attempt may get.
    public let retriable: Bool
    public init(_ message: String, retriable: Bool = false) {
        self.message = message
        self.retriable = retriable
    }
    public var description: String { message }
}

/// The MBAP header (7 bytes) in front of each PDU on TCP.
public struct MBAPHeader: Sendable, Equatable {
    public var transaction: UInt16
    public var unit: UInt8
    /// The PDU's length.
    public var length: Int

    public init(transaction: UInt16, unit: UInt8, length: Int) {
        self.transaction = transaction
        self.unit = unit
        self.length = length
    }

    public func write(to b: inout ByteBuffer) {
        b.writeInteger(transaction)
        b.writeInteger(UInt16(0))  // protocol: Modbus
        b.writeInteger(UInt16(length + 1))
        b.writeInteger(unit)
    }

    /// Reads a header if the buffer holds one and its whole frame (nil: wait for more).
    public static func read(_ b: inout ByteBuffer) throws(ModbusError) -> (MBAPHeader, ByteBuffer)? {
        guard b.readableBytes >= 7, let t: UInt16 = b.getInteger(at: b.readerIndex),
            let p: UInt16 = b.getInteger(at: b.readerIndex + 2), let l: UInt16 = b.getInteger(at: b.readerIndex + 4),
            let u: UInt8 = b.getInteger(at: b.readerIndex + 6)
        else { return nil }
        guard p == 0 else { throw ModbusError("a frame of protocol \(p), not Modbus (0)") }
        guard (2...254).contains(l) else { throw ModbusError("a frame length of \(l) (2 to 254 allowed)") }
        guard b.readableBytes >= 6 + Int(l) else { return nil }
        b.moveReaderIndex(forwardBy: 7)
        return (MBAPHeader(transaction: t, unit: u, length: Int(l) - 1), b.readSlice(length: Int(l) - 1)!)
    }
}
