"""pymodbus 3's TCP server, the device of Millstream's Modbus tests (run from the project venv).

modbus_server.py PORT: serves unit 1 with values laid out as a machine's PLC might, prints "ready" once listening:
  holding 0-1   rpm          float32 ABCD  1510.5
  holding 2     torque_nm    int16 x10     405      (40.5 with scale 0.1)
  holding 3-4   count        uint32 CDAB   123456
  holding 5-6   setpoint rpm float32 ABCD  1500.0
  input 0-1     air_temp_k   float32 CDAB  300.25
  input 2       tool_wear    uint16        42
  coil 0        running      True
Holding registers take writes. Registers from 100 on do not exist (illegal data address).
"""

import asyncio
import struct
import sys

from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import StartAsyncTcpServer


def words(fmt: str, value, order: str) -> list[int]:
    b = struct.pack(fmt, value)
    if order == "CDAB":
        b = b[2:4] + b[0:2]
    return [int.from_bytes(b[i : i + 2], "big") for i in range(0, len(b), 2)]


async def main(port: int) -> None:
    holding = (
        words(">f", 1510.5, "ABCD") + [405] + words(">I", 123456, "CDAB") + words(">f", 1500.0, "ABCD") + [0] * 93
    )
    inputs = words(">f", 300.25, "CDAB") + [42] + [0] * 97
    # pymodbus 3 reads address a of a block at index a + 1: the blocks start at 1 so that address 0 is the first value.
    device = ModbusDeviceContext(
        hr=ModbusSequentialDataBlock(1, holding),
        ir=ModbusSequentialDataBlock(1, inputs),
        co=ModbusSequentialDataBlock(1, [True] + [False] * 99),
        di=ModbusSequentialDataBlock(1, [False] * 100),
    )
    context = ModbusServerContext(devices=device, single=True)
    asyncio.get_running_loop().call_later(0.5, lambda: print("ready", flush=True))
    await StartAsyncTcpServer(context=context, address=("127.0.0.1", port))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
