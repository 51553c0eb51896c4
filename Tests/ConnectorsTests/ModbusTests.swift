import Bus
import Buses
import Connectors
import Foundation
import Modbus
import NIOCore
import Plant
import Primitives
import TestSupport
import Testing
import Topics

/// Modbus TCP: the frames on the specification's examples, the value layouts, and the client and the source against
/// pymodbus 3's server (Tests/ConnectorsTests/Peer/modbus_server.py, from the project venv).
@Suite struct ModbusTests {
    /// The device of the tests, on a free port; SIGKILLed by `stop` (it keeps nothing).
    final class Device: @unchecked Sendable {
        let port = freeLoopbackPort()
        let process = Process()

        init() async throws {
            process.executableURL = TansuBroker.root.appendingPathComponent(".venv/bin/python")
            process.arguments = [
                TansuBroker.root.appendingPathComponent("Tests/ConnectorsTests/Peer/modbus_server.py").path, "\(port)",
            ]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let reader = out.fileHandleForReading
            let line = try await blocking { () -> String in
                var line = [UInt8]()
                while let byte = try reader.read(upToCount: 1)?.first, byte != 10 { line.append(byte) }
                return String(decoding: line, as: UTF8.self)
            }
            guard line == "ready" else {
                throw ModbusError("the pymodbus server did not start (is pymodbus in .venv?)")
            }
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Modbus Application Protocol v1.1b3, 6.3: read holding registers 108 to 110.
    @Test func theSpecificationsExample() throws {
        var request = ByteBuffer()
        ModbusRequest.read(.holdingRegisters, address: 0x6B, count: 3).write(to: &request)
        #expect(Array(request.readableBytesView) == [0x03, 0x00, 0x6B, 0x00, 0x03])
        var response = ByteBuffer(bytes: [0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64])
        let r = try ModbusResponse.read(&response, answering: .read(.holdingRegisters, address: 0x6B, count: 3))
        #expect(r == .registers([555, 0, 100]))
        var exception = ByteBuffer(bytes: [0x83, 0x02])
        #expect(
            try ModbusResponse.read(&exception, answering: .read(.holdingRegisters, address: 0, count: 1))
                == .exception(function: 3, code: 2))
        var coils = ByteBuffer(bytes: [0x01, 0x01, 0b0000_0101])
        #expect(
            try ModbusResponse.read(&coils, answering: .read(.coils, address: 0, count: 3))
                == .bits([true, false, true]))
        var short = ByteBuffer(bytes: [0x03, 0x06, 0x02, 0x2B])
        #expect(throws: ModbusError.self) {
            try ModbusResponse.read(&short, answering: .read(.holdingRegisters, address: 0, count: 3))
        }
        var frame = ByteBuffer()
        MBAPHeader(transaction: 7, unit: 1, length: 5).write(to: &frame)
        #expect(Array(frame.readableBytesView) == [0, 7, 0, 0, 0, 6, 1])
    }

    @Test func valueLayouts() throws {
        // 1510.5 as float32 is 0x44BCD000.
        let cases: [(ModbusByteOrder, [UInt16])] = [
            (.abcd, [0x44BC, 0xD000]), (.cdab, [0xD000, 0x44BC]), (.badc, [0xBC44, 0x00D0]), (.dcba, [0x00D0, 0xBC44]),
        ]
        for (order, registers) in cases {
            let p = ModbusPoint(table: .holdingRegisters, address: 0, type: .float32, order: order)
            #expect(p.value(registers: registers) == 1510.5, "\(order)")
            #expect(try p.registers(for: 1510.5) == registers, "\(order)")
        }
        let torque = ModbusPoint(table: .holdingRegisters, address: 0, type: .int16, scale: 0.1)
        #expect(torque.value(registers: [405]) == 40.5)
        #expect(torque.value(registers: [0xFFF6]) == -1)
        #expect(try torque.registers(for: -1) == [0xFFF6])
        #expect(throws: ModbusError.self) { try torque.registers(for: 5000) }
        let count = ModbusPoint(table: .holdingRegisters, address: 0, type: .uint32, order: .cdab)
        #expect(count.value(registers: [0xE240, 0x0001]) == 123_456)
    }

    @Test func readWriteAndRefusalsOnARealDevice() async throws {
        let device = try await Device()
        defer { device.stop() }
        let c = try await ModbusConnection.connect(host: "127.0.0.1", port: device.port)
        let rpm = ModbusPoint(table: .holdingRegisters, address: 0, type: .float32)
        #expect(rpm.value(registers: try await c.read(.holdingRegisters, address: 0, count: 2)) == 1510.5)
        let air = ModbusPoint(table: .inputRegisters, address: 0, type: .float32, order: .cdab)
        #expect(air.value(registers: try await c.read(.inputRegisters, address: 0, count: 2)) == 300.25)
        #expect(try await c.read(.coils, address: 0, count: 2) == [1, 0])
        let setpoint = ModbusPoint(table: .holdingRegisters, address: 5, type: .float32)
        try await c.write(1600, to: setpoint)
        #expect(setpoint.value(registers: try await c.read(.holdingRegisters, address: 5, count: 2)) == 1600)

        let refused = await #expect(throws: ModbusError.self) {
            try await c.read(.holdingRegisters, address: 100, count: 2)
        }
        #expect(
            refused?.message
                == "modbus://127.0.0.1:\(device.port) unit 1 refused function 3 at address 100: illegal data address")
        #expect(refused?.retriable == false)
        await #expect(throws: ModbusError.self) { try await c.write(1, to: air) }

        device.stop()
        let lost = await #expect(throws: ModbusError.self) { try await c.read(.holdingRegisters, address: 0, count: 1) }
        #expect(lost?.retriable == true)
        #expect(lost?.message.contains("127.0.0.1:\(device.port)") == true)
    }

    @Test func theSourcePollsReadingsAndLeavesOutWhatTheDeviceRefuses() async throws {
        let device = try await Device()
        defer { device.stop() }
        let yaml =
            ProcessConfig.millingYAML + """

                connectors:
                  modbus:
                    - url: modbus://127.0.0.1:\(device.port)
                      unit: 1
                      machine: plant1/line1/m03
                      interval_ms: 50
                      points:
                        rpm: {table: holding, address: 0, type: float32}
                        torque_nm: {table: holding, address: 2, type: int16, scale: 0.1}
                        air_temp_k: {table: input, address: 0, type: float32, order: CDAB}
                        tool_wear_min: {table: holding, address: 96}
                        process_temp_k: {table: holding, address: 99, type: float32}
                """
        let settings = try ConnectorSettings.load(yaml: yaml, source: "plant.yaml", process: .milling())
        #expect(settings.modbus.first?.points.count == 5)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("modbus-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)?partitions=1&fsync=never")
        let source = ModbusSource(devices: settings.modbus, bus: bus)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            while source.stats.snapshot.readings < 5 { try await Task.sleep(for: .milliseconds(20)) }
            group.cancelAll()
        }
        // 96 and 99 are read in one request, which the device refuses (address 100 does not exist): each alone then,
        // and only process_temp_k is left out.
        #expect(source.stats.snapshot.lastError?.contains("address 99: illegal data address") == true)
        #expect(source.stats.snapshot.lastError?.contains("process_temp_k") == true)
        let consumer = try await bus.consumer(ConsumerOptions(topics: [Topics.readings.name]))
        let first = try await consumer.poll(maxRecords: 1, timeout: .seconds(5))
        let r = try Topics.readings.decode(try #require(first.first).value)
        #expect(r.machine == "plant1/line1/m03")
        #expect(r["rpm"] == 1510.5 && r["torque_nm"] == 40.5 && r["air_temp_k"] == 300.25 && r["tool_wear_min"] == 0)
        #expect(r["process_temp_k"] == nil)
        try await bus.close()

        let bad = yaml.replacingOccurrences(of: "type: int16", with: "type: int12")
        #expect {
            try ConnectorSettings.load(yaml: bad, source: "plant.yaml", process: .milling())
        } throws: { "\($0)".contains("'int12' is not one of bool, int16, uint16, int32, uint32, float32") }
    }

    /// A setpoint change written to the device's holding registers and read back at once; a change for a variable
    /// the device has no register for is refused, naming the target.
    @Test func setpointsAreWrittenToRegistersAndReadBack() async throws {
        let device = try await Device()
        defer { device.stop() }
        let yaml =
            ProcessConfig.millingYAML + """

                connectors:
                  modbus:
                    - url: modbus://127.0.0.1:\(device.port)
                      machine: plant1/line1/m02
                      points: {rpm: {table: holding, address: 0, type: float32}}
                      setpoints: {rpm: {table: holding, address: 5, type: float32}}
                """
        let settings = try ConnectorSettings.load(yaml: yaml, source: "plant.yaml", process: .milling())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("modbus-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)?partitions=1&fsync=never")
        let producer = try await bus.producer()
        let changes = [
            SetpointRecord(machine: "plant1/line1/m02", values: ["rpm": 1550], recommendation: "m1"),
            SetpointRecord(machine: "plant1/line1/m02", values: ["torque_nm": 42], recommendation: "m2"),
        ]
        _ = try await producer.send(
            changes.map { Record(key: Array($0.machine.utf8), value: $0.encoded(), timestamp: 0) },
            to: Topics.setpoints.name)
        let sink = SetpointSink(target: ModbusSetpointTarget(devices: settings.modbus), process: .milling(), bus: bus)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sink.run() }
            let start = ContinuousClock.now
            while sink.stats.snapshot.setpointWrites["confirmed"] != 1
                || sink.stats.snapshot.setpointWrites["refused"] != 1
            {
                if ContinuousClock.now - start > .seconds(30) { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            group.cancelAll()
        }
        #expect(sink.stats.snapshot.setpointWrites == ["sending": 1, "written": 1, "confirmed": 1, "refused": 1])
        let c = try await ModbusConnection.connect(host: "127.0.0.1", port: device.port)
        let setpoint = ModbusPoint(table: .holdingRegisters, address: 5, type: .float32)
        #expect(setpoint.value(registers: try await c.read(.holdingRegisters, address: 5, count: 2)) == 1550)
        await c.close()

        let consumer = try await bus.consumer(ConsumerOptions(topics: [Topics.setpointWrites.name]))
        let writes = try await consumer.poll(maxRecords: 10, timeout: .seconds(5)).map {
            try Topics.setpointWrites.decode($0.value)
        }
        #expect(
            writes.map { "\($0.id) \($0.state.rawValue)" } == [
                "m1 sending", "m1 written", "m1 confirmed", "m2 refused",
            ])
        try #require(writes.count == 4)
        #expect(writes[0].endpoint == "modbus://127.0.0.1:\(device.port) unit 1 holding 5 (rpm)")
        #expect(writes[2].reason == "read back from the device")
        #expect(writes[3].reason?.contains("has no place for these setpoints of plant1/line1/m02") == true)
        try await bus.close()
    }
}
