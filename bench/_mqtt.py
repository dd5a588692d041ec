"""For bench/emergency.py --mqtt: Debian's mosquitto holding one subscriber per agent and
fanning one message out to each, with a minimal MQTT 3.1.1 client on raw asyncio sockets
(CONNECT, SUBSCRIBE, PUBLISH at QoS 0): what the broker costs per connection and how fast
it delivers, measured the same way as the HTTP push."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import _stations
from _procs import cpu_s, free_port, rss_kb


def _mqtt_string(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(2, "big") + data


def _mqtt_packet(kind: int, body: bytes) -> bytes:
    length, encoded = len(body), b""
    while True:
        byte, length = length % 128, length // 128
        encoded += bytes([byte | (128 if length else 0)])
        if not length:
            return bytes([kind]) + encoded + body


async def _mqtt_read(reader) -> tuple[int, bytes]:
    kind = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length += (byte & 127) << shift
        shift += 7
        if not byte & 128:
            return kind, await reader.readexactly(length)


async def _mqtt_subscriber(port, index, subscribed, received):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connect = _mqtt_string("MQTT") + bytes([4, 2]) + (120).to_bytes(2, "big")
    writer.write(_mqtt_packet(0x10, connect + _mqtt_string(f"agent-{index}")))
    await _mqtt_read(reader)  # CONNACK
    topic = f"broadcaster/stations/BENCH-{index:06d}"
    writer.write(_mqtt_packet(0x82, (1).to_bytes(2, "big") + _mqtt_string(topic) + b"\x00"))
    await _mqtt_read(reader)  # SUBACK
    subscribed.append(index)
    kind, _body = await _mqtt_read(reader)
    if kind >> 4 == 3:  # PUBLISH
        received.append(time.time())
    writer.close()


async def _mqtt(port: int, agents: int, broker_pid: int) -> dict:
    subscribed: list[int] = []
    received: list[float] = []
    before = rss_kb(broker_pid)
    tasks = []
    for index in range(agents):
        tasks.append(asyncio.create_task(_mqtt_subscriber(port, index, subscribed, received)))
        if index % 200 == 199:
            await asyncio.sleep(0.05)
    while len(subscribed) < agents:
        await asyncio.sleep(0.1)
    held = rss_kb(broker_pid)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connect = _mqtt_string("MQTT") + bytes([4, 2]) + (120).to_bytes(2, "big")
    writer.write(_mqtt_packet(0x10, connect + _mqtt_string("server")))
    await _mqtt_read(reader)
    cpu_before = cpu_s([broker_pid])
    sent = time.time()
    for index in range(agents):
        topic = f"broadcaster/stations/BENCH-{index:06d}"
        writer.write(_mqtt_packet(0x30, _mqtt_string(topic) + b"manifest"))
    await writer.drain()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    writer.close()
    delays = sorted(t - sent for t in received)
    return {
        "per_connection_kb": (held - before) / agents,
        "p99": delays[int(0.99 * (len(delays) - 1))],
        "max": delays[-1],
        "cpu": cpu_s([broker_pid]) - cpu_before,
        "received": len(received),
    }


def measure(folder: Path, agents: int) -> dict | None:
    broker = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(broker).exists():
        print("mqtt: mosquitto is not installed; skipped")
        return None
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n")
    log = folder / "mosquitto.log"
    process = subprocess.Popen(
        [broker, "-c", str(conf)], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        _stations.wait_for_port(process, port, log, timeout=20)
        return asyncio.run(_mqtt(port, agents, process.pid))
    finally:
        process.terminate()
        process.wait(timeout=10)
