"""asyncua's client, the peer of `scripts/bench opcua` (run from the project venv), on the same server.

asyncua_side.py ENDPOINT NODES SECONDS PUBLISH_MS: subscribes to the bench nodes ns=2;s=bench/v0 ... (sampling 0,
queue 100, publishing every PUBLISH_MS), skips the first second, then for SECONDS counts the values and the latency
of each (its arrival minus the time it holds, set by the server as it wrote it); prints {"rate": values/s, "p50_ms",
"p99_ms", "cpu_us_per_value"} (this process's CPU time per value).
"""

import asyncio
import json
import sys
import time

from asyncua import Client, ua


class Handler:
    def __init__(self):
        self.counting = False
        self.latencies = []

    def datachange_notification(self, node, value, data):
        if self.counting:
            self.latencies.append((time.time() - value) * 1000)


async def main(endpoint: str, nodes: int, seconds: float, publish_ms: float) -> None:
    async with Client(endpoint) as client:
        handler = Handler()
        sub = await client.create_subscription(publish_ms, handler)
        items = [client.get_node(ua.NodeId(f"bench/v{i}", 2)) for i in range(nodes)]
        await sub.subscribe_data_change(items, queuesize=100, sampling_interval=0)
        await asyncio.sleep(1)
        handler.counting = True
        cpu = time.process_time()
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        handler.counting = False
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        lat = sorted(handler.latencies)
        n = len(lat)
        print(json.dumps({
            "rate": n / elapsed,
            "p50_ms": lat[n // 2] if n else -1,
            "p99_ms": lat[int(n * 0.99)] if n else -1,
            "cpu_us_per_value": cpu * 1e6 / n if n else -1,
        }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
