#!/usr/bin/env python3
"""Hostile load on a running `digits serve`: good requests mixed with bad ones and slow senders.

    python3 benchmarks/hostile_load.py --port PORT --pid PID [--connections 64] [--duration 60]

Each of --connections workers loops until --duration is over, drawing a kind of request from a fixed
seeded sequence:
  good-png      a real MNIST test digit as a 28x28 PNG            expects 200 and the right digit
  good-json     the same digit as {"pixels": [...]}                expects 200 and the right digit
  bad-json      malformed or mistyped JSON                          expects 400
  truncated     the PNG cut short                                   expects 400
  oversized     a body of 6 MB (over the 5 MB limit)                expects 413
  wrong-type    Content-Type text/plain                             expects 415
  slow-head     half a request head, then silence                   expects the server to close the connection
  slow-body     the head and half the body, then silence            expects 408 or a closed connection
A good request that gets anything but a right 200 counts as an error; so does a bad one that gets a
5xx or no answer. The server's RSS (from /proc/PID/status) is printed before and after.
Only the Python standard library is used.
"""

import argparse
import asyncio
import gzip
import json
import os
import random
import struct
import sys
import time
import zlib


def png_gray(width, height, pixels):
    """A minimal 8-bit greyscale PNG."""
    raw = b"".join(b"\x00" + bytes(pixels[r * width:(r + 1) * width]) for r in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def mnist_test_digit(data_dir, index):
    with gzip.open(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")) as f:
        f.seek(16 + index * 784)
        pixels = list(f.read(784))
    with gzip.open(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")) as f:
        f.seek(8 + index)
        label = f.read(1)[0]
    return pixels, label


def request(path, body, content_type):
    head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return (head + "\r\n").encode(), body


async def read_response(reader, timeout):
    """(status, body) of one HTTP/1.1 response, or (None, reason) when the connection ends or times out."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            return None, "closed"
        status = int(line.split()[1])
        length = 0
        while True:
            h = await asyncio.wait_for(reader.readline(), timeout)
            if h in (b"\r\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        return status, body
    except asyncio.TimeoutError:
        return None, "timeout"
    except (ConnectionError, asyncio.IncompleteReadError):
        return None, "reset"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


async def worker(wid, args, bodies, label, deadline, stats):
    rng = random.Random(wid)
    kinds = ["good-png"] * 4 + ["good-json"] * 2 + ["bad-json", "truncated", "oversized", "wrong-type"] + \
            ["slow-head", "slow-body"]
    while time.monotonic() < deadline:
        kind = rng.choice(kinds)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
        except OSError as e:
            stats.setdefault("connect-failed", 0)
            stats["connect-failed"] += 1
            await asyncio.sleep(0.05)
            continue
        outcome = await one(kind, reader, writer, bodies, label, args, rng)
        key = f"{kind}: {outcome}"
        stats[key] = stats.get(key, 0) + 1
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def one(kind, reader, writer, bodies, label, args, rng):
    good = kind.startswith("good")
    try:
        if kind == "good-png":
            head, body = request("/api/predict", bodies["png"], "image/png")
        elif kind == "good-json":
            head, body = request("/api/predict", bodies["json"], "application/json")
        elif kind == "bad-json":
            head, body = request("/api/predict", rng.choice([b'{"pixels": [1, 2', b'{"pixel": []}', b'[]', b'{"pixels": "x"}']),
                                 "application/json")
        elif kind == "truncated":
            head, body = request("/api/predict", bodies["png"][: len(bodies["png"]) // 2], "image/png")
        elif kind == "oversized":
            head, body = request("/api/predict", b"\0" * 6_000_000, "image/png")
        elif kind == "wrong-type":
            head, body = request("/api/predict", b"hello", "text/plain")
        elif kind == "slow-head":
            writer.write(b"POST /api/predict HTTP/1.1\r\nHost: loc")
            await writer.drain()
            status, why = await read_response(reader, args.slow_wait)
            return "closed by server" if status is None and why in ("closed", "reset") else f"unexpected {status or why}"
        else:  # slow-body
            head, body = request("/api/predict", bodies["png"], "image/png")
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            status, why = await read_response(reader, args.slow_wait)
            if status == 408 or (status is None and why in ("closed", "reset")):
                return "timed out by server"
            return f"unexpected {status or why}"
        writer.write(head + body)
        await writer.drain()
        status, answer = await read_response(reader, 30)
    except (ConnectionError, OSError) as e:
        # The server may close an oversized upload before reading it all; that is a refusal, not a crash.
        if kind == "oversized":
            status, answer = await read_response(reader, 5)
            if status is None:
                return "closed by server"
        else:
            return f"ERROR {type(e).__name__}"
    if good:
        if status != 200:
            return f"ERROR status {status}"
        digit = json.loads(answer)["digit"]
        return "ok" if digit == label else f"ERROR digit {digit}"
    if status is None or status >= 500:
        return f"ERROR {status or answer}"
    return f"{status}"


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--slow-wait", type=float, default=30, help="seconds a slow sender waits for the server to act")
    p.add_argument("--sigterm", action="store_true", help="end by sending SIGTERM with a request in flight")
    p.add_argument("--data", default=os.environ.get("DIGITS_DATA", "../shared/datasets/mnist"))
    args = p.parse_args()

    pixels, label = mnist_test_digit(args.data, 0)
    bodies = {"png": png_gray(28, 28, pixels), "json": json.dumps({"pixels": [v / 255 for v in pixels]}).encode()}
    before = rss_kib(args.pid)
    stats = {}
    start = time.monotonic()
    deadline = start + args.duration
    await asyncio.gather(*(worker(w, args, bodies, label, deadline, stats) for w in range(args.connections)))
    elapsed = time.monotonic() - start
    after = rss_kib(args.pid)
    alive = os.path.exists(f"/proc/{args.pid}")
    print(f"{args.connections} connections for {elapsed:.0f} s against pid {args.pid}")
    for key in sorted(stats):
        print(f"  {key:40s} {stats[key]:8d}")
    errors = sum(v for k, v in stats.items() if "ERROR" in k or "unexpected" in k or k == "connect-failed")
    good = sum(v for k, v in stats.items() if k.startswith("good") and k.endswith(": ok"))
    print(f"good requests answered right: {good}; errors: {errors}")
    print(f"server RSS: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after; alive: {alive}")
    drained = True
    if args.sigterm and alive:
        drained = await sigterm_in_flight(args, bodies, label)
    return 0 if errors == 0 and alive and drained else 1


async def sigterm_in_flight(args, bodies, label):
    """Half a good request, SIGTERM, the other half: the answer must still be a right 200."""
    reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
    head, body = request("/api/predict", bodies["png"], "image/png")
    writer.write(head + body[: len(body) // 2])
    await writer.drain()
    await asyncio.sleep(0.5)
    os.kill(args.pid, 15)
    await asyncio.sleep(0.5)
    writer.write(body[len(body) // 2:])
    await writer.drain()
    status, answer = await read_response(reader, 10)
    right = status == 200 and json.loads(answer)["digit"] == label
    gone = False
    for _ in range(100):
        if not os.path.exists(f"/proc/{args.pid}") or open(f"/proc/{args.pid}/stat").read().split()[2] == "Z":
            gone = True
            break
        await asyncio.sleep(0.1)
    print(f"SIGTERM with a request in flight: answered {status} ({'right' if right else 'WRONG'}), server exited: {gone}")
    return right and gone


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
