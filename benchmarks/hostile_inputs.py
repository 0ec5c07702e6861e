"""Issue 24's reproducers, run against the digits binary: each must be refused with a message and a
non-zero exit, no signal, in under 1 s, with peak memory under 300 MB; then two scan bombs at once on
`digits serve` while /healthz and a good picture are timed.

    python3 benchmarks/hostile_inputs.py [--digits .build/release/digits] [--data ../shared/datasets/mnist]

Prints one line per case (seconds, peak RSS, exit status, the first line of the message) and exits 1 if any
case misses its target. The files are written to a scratch folder from the byte layouts in the issue.
"""
import argparse
import gzip
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def scan_bomb():
    def seg(m, p):
        return b"\xff" + bytes([m]) + struct.pack(">H", len(p) + 2) + p
    j = b"\xff\xd8" + seg(0xDB, b"\0" + b"\1" * 64) + seg(0xC2, struct.pack(">BHHB", 8, 6000, 6000, 1) + b"\1\x11\0")
    j += seg(0xC4, b"\0" + bytes([1] + [0] * 15) + b"\0") + seg(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\0")
    j += seg(0xDA, b"\1\1\0\0\0\0") + seg(0xDA, b"\1\1\0\1\x3f\0") * 3000 + b"\xff\xd9"
    return j


def model_file(arch, tensors=()):
    header, offset, blob = {}, 0, b""
    for name, shape, data in tensors:
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blob += data
    header["__metadata__"] = {"format": "digits-model", "architecture": json.dumps(arch)}
    j = json.dumps(header).encode()
    j += b" " * (-len(j) % 8)
    return struct.pack("<Q", len(j)) + j + blob


def architecture(layers, layout="flat"):
    return {"name": "x", "layers": layers, "output": "scores",
            "encoding": {"layout": layout, "normalize": False}, "initializer": {"normal": {"std": 0.001}}}


def run(label, command, limit_seconds=1.0, limit_mb=300):
    # GNU time measures the command's own peak RSS (a child of this process would count the memory of the
    # Python it was forked from); its exit status is the command's, or 128 + the signal that ended it.
    report = tempfile.NamedTemporaryFile(suffix=".time")
    start = time.monotonic()
    process = subprocess.run(["/usr/bin/time", "-q", "-f", "%M %x", "-o", report.name] + command, capture_output=True)
    elapsed = time.monotonic() - start
    out, err = process.stdout.decode(errors="replace"), process.stderr.decode(errors="replace")
    fields = open(report.name).read().split()
    peak_mb = int(fields[-2]) / 1024
    code = int(fields[-1])
    signal = code - 128 if code > 128 else 0
    message = next((line for line in (err + out).splitlines() if line.strip()), "")
    ok = signal == 0 and code != 0 and elapsed < limit_seconds and peak_mb < limit_mb and message
    print(f"{'ok  ' if ok else 'FAIL'} {label:42} {elapsed:6.3f} s {peak_mb:6.0f} MB exit {code}"
          f"{' signal ' + str(signal) if signal else ''}  {message[:150]}")
    return bool(ok)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(port, body, content_type):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/predict", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--digits", default=".build/release/digits")
    parser.add_argument("--data", default=os.environ.get("DIGITS_DATA", "../shared/datasets/mnist"))
    args = parser.parse_args()
    digits, data = os.path.abspath(args.digits), os.path.abspath(args.data)
    scratch = tempfile.mkdtemp(prefix="digits-hostile-")
    try:
        path = lambda name: os.path.join(scratch, name)
        model = path("m.safetensors")
        subprocess.run([digits, "train", "--model", "mlp", "--epochs", "1", "--quiet", "--output", model, "--data", data],
                       check=True, stdout=subprocess.DEVNULL)
        with open(path("bomb.jpg"), "wb") as f:
            f.write(scan_bomb())
        with open(path("pool0.safetensors"), "wb") as f:
            f.write(model_file(architecture([{"maxPool2d": {"kernel": 2, "stride": 0}}, {"flatten": {}}], "image")))
        with open(path("neg.safetensors"), "wb") as f:
            f.write(model_file(architecture([{"dense": {"inputs": -1, "outputs": 10}}])))
        with open(path("claim.ppm"), "wb") as f:
            f.write(b"P6 6324 6324 255")
        # A 98 MB header: the length prefix and that many bytes of JSON.
        body = b'{"__metadata__":{"format":"digits-model","x":"' + b"a" * (98_000_000 - 50) + b'"}}'
        with open(path("header98.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", len(body)) + body)
        del body
        # A dataset folder whose training images are a gzip bomb (2 GB of zeros), and one with no images.
        bomb, empty = path("bomb-data"), path("empty-data")
        os.makedirs(bomb)
        os.makedirs(empty)
        for name in ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]:
            shutil.copy(os.path.join(data, name), os.path.join(bomb, name))
        with gzip.open(os.path.join(bomb, "train-images-idx3-ubyte.gz"), "wb", compresslevel=9) as f:
            zeros = bytes(1 << 24)
            for _ in range(128):
                f.write(zeros)
        with open(os.path.join(empty, "train-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, 0, 28, 28))
        with open(os.path.join(empty, "train-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, 0))
        for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]:
            shutil.copy(os.path.join(data, name), os.path.join(empty, name))

        cases = [
            ("JPEG with 3,000 scans", [digits, "predict", model, path("bomb.jpg")]),
            ("max-pool of stride 0 (info)", [digits, "info", path("pool0.safetensors")]),
            ("max-pool of stride 0 (predict)", [digits, "predict", path("pool0.safetensors"), path("bomb.jpg")]),
            ("dense of -1 inputs", [digits, "info", path("neg.safetensors")]),
            ("17-byte PPM claiming 6324x6324", [digits, "predict", model, path("claim.ppm")]),
            ("gzip bomb as training images", [digits, "train", "--model", "mlp", "--data", bomb]),
            ("98 MB safetensors header", [digits, "info", path("header98.safetensors")]),
            ("info /dev/zero", [digits, "info", "/dev/zero"]),
            ("empty dataset", [digits, "train", "--model", "mlp", "--epochs", "1", "--data", empty]),
            ("serve --idle-timeout 1e300", [digits, "serve", model, "--idle-timeout", "1e300"]),
            ("train --hidden 100000000", [digits, "train", "--model", "mlp", "--hidden", "100000000", "--data", data]),
        ]
        ok = all([run(label, command) for label, command in cases])

        # The server under two scan bombs at a time: /healthz and a good picture must answer within 1 s.
        port = free_port()
        server = subprocess.Popen([digits, "serve", model, "--port", str(port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            pgm = b"P5 28 28 255\n" + bytes(28 * 28)
            pgm = bytearray(pgm)
            for y in range(6, 22):
                for x in range(12, 16):
                    pgm[13 + y * 28 + x] = 255
            stop = time.monotonic() + 3
            bomb_bytes, statuses = scan_bomb(), []

            def bomber():
                while time.monotonic() < stop:
                    statuses.append(post(port, bomb_bytes, "image/jpeg"))
            threads = [threading.Thread(target=bomber) for _ in range(2)]
            for t in threads:
                t.start()
            worst_health = worst_good = 0.0
            while time.monotonic() < stop:
                t0 = time.monotonic()
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                t1 = time.monotonic()
                good = post(port, bytes(pgm), "image/x-portable-graymap")
                t2 = time.monotonic()
                worst_health, worst_good = max(worst_health, t1 - t0), max(worst_good, t2 - t1)
                assert good == 200, good
            for t in threads:
                t.join()
            served = worst_health < 1 and worst_good < 1 and all(s in (413, 503) for s in statuses)
            print(f"{'ok  ' if served else 'FAIL'} {'serve under two scan bombs at once':42} /healthz worst {worst_health * 1000:.1f} ms, "
                  f"good picture worst {worst_good * 1000:.1f} ms, {len(statuses)} bombs answered {sorted(set(statuses))}")
            ok = ok and served
        finally:
            server.terminate()
            server.wait()
        sys.exit(0 if ok else 1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
