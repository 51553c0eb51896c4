import KafkaWire
import NIOCore

/// Splits the byte stream into Kafka frames: a big-endian int32 size, then that many bytes.
struct KafkaFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    static let maximumFrame = 128 << 20

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let size = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else {
            return .needMoreData
        }
        guard size >= 4 && Int(size) <= Self.maximumFrame else {
            throw KafkaWireError("the broker sent a frame of \(size) bytes (expected 4 to \(Self.maximumFrame))")
        }
        guard buffer.readableBytes >= 4 + Int(size) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(size))!))
        return .continue
    }
}
