"""A TCP proxy on loopback that cuts every connection it carries every CUT_MS milliseconds (the connection-cut tests).

  proxy.py LISTEN_PORT TARGET_PORT CUT_MS COUNT_FILE
Prints "ready" once listening; COUNT_FILE holds the number of connections cut so far.
"""
import asyncio
import sys

listen_port, target_port, cut_ms, count_file = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
live = set()
total_cut = 0


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_writer.close()
        return
    pair = (client_writer, broker_writer)
    live.add(pair)
    await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))
    live.discard(pair)


async def cutter():
    global total_cut
    while True:
        await asyncio.sleep(cut_ms / 1000)
        n = len(live)
        for a, b in list(live):
            for w in (a, b):
                w.transport.abort()
        live.clear()
        total_cut += n
        with open(count_file, "w") as f:
            f.write(str(total_cut))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await asyncio.gather(server.serve_forever(), cutter())


asyncio.run(main())
