"""Load, overload, bad input and soak for ``detect serve`` on loopback, with an httpx async client.

    python -m benchmarks.serve_load --ckpt runs/<run>/checkpoints/last.ckpt [--soak 600]

Phases (each bounded in requests or seconds, servers stopped at the end):

1. **load** — two servers at once, ``serve.max_batch=1`` and ``8``, each idle while the other is
   measured; per concurrency (1, 4, 16, 64 clients) the two are run in A-B-B-A order and each
   figure is the sum of its two turns: throughput, p50 and p99 latency of one-image requests
   of real COCO images. Every response is matched to its request's image: its records must
   equal the in-process records of that image (options ``score_thresh=0.001,
   max_detections=20`` make each image's records distinct), so a lost, failed or swapped
   answer is counted.
2. **overhead** — one client: a request's latency against the same work in process (decode the
   JPEG bytes, ``Model.predict`` on the array, records), calls alternated, medians compared.
3. **workers** — ``serve.workers=2`` (``threads=1`` each) against one process, 16 clients.
4. **overload** — a server with ``serve.queue_size=4``: 64 clients at once get 503 +
   Retry-After beyond the queue, then 20 requests in a row all succeed.
5. **bad input** — 500 bad requests (non-images, a truncated JPEG, a 40 MB body, a PNG under
   0.5 MB decoding to 20,000 × 20,000, wrong field names, a missing or wrong API key, forbidden
   stream sources) mixed with 500 good ones on a server with an API key: each bad one must get
   its intended status with a JSON error, each good one its records.
6. **soak** (``--soak SECONDS``) — 16 clients for that long; the server's RSS at the start,
   every 30 s and at the end.

The machine's cores are shared with the load generator (and, here, with other work): compare
figures of one run, as ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil

from detect import Model
from detect.data.images import decode_image, image_size

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.bad_images import giant_png, truncated_jpeg  # noqa: E402
from support.mjpeg_server import free_port  # noqa: E402

OPTIONS = {"score_thresh": "0.001", "max_detections": "20"}
CONCURRENCY = (1, 4, 16, 64)
STARTED: list[Server] = []  # every server, stopped at exit whatever happened


@dataclass
class Run:
    """One measured turn: latencies of answered requests, and what went wrong."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    failed: int = 0  # no answer, or not 200
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    mismatched: int = 0  # an answer that is not its image's records

    def add(self, other: Run) -> None:
        self.latencies += other.latencies
        self.wall += other.wall
        self.failed += other.failed
        self.reasons.update(other.reasons)
        self.mismatched += other.mismatched

    def row(self) -> str:
        lat = np.array(self.latencies) * 1000
        rate = len(lat) / self.wall if self.wall else 0.0
        return (
            f"{rate:7.1f} img/s  p50 {np.percentile(lat, 50):7.1f} ms  "
            f"p99 {np.percentile(lat, 99):7.1f} ms  answered {len(lat)}  failed {self.failed}  "
            f"mismatched {self.mismatched}" + (f" ({dict(self.reasons)})" if self.reasons else "")
        )


class Server:
    """``detect serve`` in a subprocess on a free loopback port."""

    def __init__(self, ckpt: str, *overrides: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "detect", "serve", f"ckpt={ckpt}", f"port={self.port}"]
        command += ["backend=onnxruntime", "serve.access_log=false", *overrides]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        STARTED.append(self)

    def wait(self, headers: dict[str, str] | None = None, timeout: float = 300) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", headers=headers, timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server not ready")

    def rss_mb(self) -> float:
        """The server's resident memory (with its worker processes)."""
        process = psutil.Process(self.process.pid)
        rss = process.memory_info().rss + sum(
            child.memory_info().rss for child in process.children(recursive=True)
        )
        return rss / 2**20

    def batches(self) -> tuple[float, float]:
        """(images, detector calls) so far, from /metrics."""
        values = {}
        for line in httpx.get(f"{self.url}/metrics", timeout=10).text.splitlines():
            name, _, value = line.partition(" ")
            if name in ("detect_batch_size_sum", "detect_batch_size_count"):
                values[name] = float(value)
        return values["detect_batch_size_sum"], values["detect_batch_size_count"]

    def stop(self) -> int:
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9


async def load(url: str, images: list[bytes], expected: list, clients: int, requests: int) -> Run:
    """``requests`` one-image requests from ``clients`` concurrent clients."""
    run, counter = Run(), iter(range(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def worker() -> None:
            for index in counter:
                image = index % len(images)
                start = time.perf_counter()
                try:
                    response = await client.post(
                        f"{url}/v1/detect", params=OPTIONS, files=[("image", images[image])]
                    )
                except httpx.HTTPError as error:
                    run.failed += 1
                    run.reasons[type(error).__name__] += 1
                    continue
                if response.status_code != 200:
                    run.failed += 1
                    run.reasons[str(response.status_code)] += 1
                    continue
                run.latencies.append(time.perf_counter() - start)
                if response.json()["results"] != [expected[image]]:
                    run.mismatched += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        run.wall = time.perf_counter() - start
    return run


def load_phase(ckpt: str, images, expected, per_client: int) -> None:
    servers = {b: Server(ckpt, f"serve.max_batch={b}", "serve.queue_size=256") for b in (1, 8)}
    for server in servers.values():
        server.wait()
    print("\n## load: one-image requests, max_batch 1 vs 8 (A-B-B-A turns summed)")
    for clients in CONCURRENCY:
        requests = max(40, clients * per_client)
        runs = {1: Run(), 8: Run()}
        before = {batch: server.batches() for batch, server in servers.items()}
        for batch in (1, 8, 8, 1):
            runs[batch].add(
                asyncio.run(load(servers[batch].url, images, expected, clients, requests))
            )
        for batch in (1, 8):
            images_now, calls_now = servers[batch].batches()
            mean = (images_now - before[batch][0]) / max(calls_now - before[batch][1], 1)
            print(
                f"clients {clients:3d}  max_batch {batch}: {runs[batch].row()}  "
                f"mean batch {mean:.2f}"
            )
        ratio = (len(runs[8].latencies) / runs[8].wall) / (len(runs[1].latencies) / runs[1].wall)
        p99 = np.percentile(runs[8].latencies, 99) / np.percentile(runs[1].latencies, 99)
        print(f"clients {clients:3d}  batch 8 / batch 1: throughput ×{ratio:.2f}, p99 ×{p99:.2f}")
    overhead_phase(servers[1], images)
    for server in servers.values():
        server.stop()


def overhead_phase(server: Server, images: list[bytes], rounds: int = 60) -> None:
    """One client, calls alternated: the server's latency against the same work in process."""
    model = overhead_phase.model
    served, local = [], []
    with httpx.Client(timeout=60) as client:
        for index in range(rounds):
            data = images[index % len(images)]
            start = time.perf_counter()
            client.post(f"{server.url}/v1/detect", params=OPTIONS, files=[("image", data)])
            served.append(time.perf_counter() - start)
            start = time.perf_counter()
            found = model.predict(
                decode_image(data, "bench"), score_thresh=0.001, max_detections=20
            )
            json.dumps([d.to_records() for d in found])
            local.append(time.perf_counter() - start)
    over, near = statistics.median(served) * 1000, statistics.median(local) * 1000
    print(
        f"\n## overhead, one client ({rounds} images alternated): served p50 {over:.1f} ms, "
        f"in process p50 {near:.1f} ms: the server adds {over - near:.1f} ms "
        f"(×{over / near:.2f})"
    )


def workers_phase(ckpt: str, images, expected, requests: int) -> None:
    one = Server(ckpt, "serve.max_batch=8", "serve.queue_size=256").wait()
    two = Server(ckpt, "serve.max_batch=8", "serve.queue_size=256", "serve.workers=2", "threads=1")
    two.wait()
    runs = {"1 process": Run(), "2 workers, 1 thread each": Run()}
    for name, server in (("1 process", one), ("2 workers, 1 thread each", two)) * 2:
        runs[name].add(asyncio.run(load(server.url, images, expected, 16, requests)))
    print("\n## workers: 16 clients, max_batch 8")
    for name, run in runs.items():
        print(f"{name:26s} {run.row()}")
    one.stop(), two.stop()


async def overload_phase(ckpt: str, image: bytes) -> None:
    server = Server(ckpt, "serve.max_batch=1", "serve.queue_size=4", "serve.retry_after_s=1").wait()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:

        async def one() -> httpx.Response:
            return await client.post(f"{server.url}/v1/detect", files=[("image", image)])

        first = await asyncio.gather(*(one() for _ in range(64)))
        statuses = [r.status_code for r in first]
        retry = {r.headers.get("retry-after") for r in first if r.status_code == 503}
        json_errors = all("error" in r.json() for r in first if r.status_code == 503)
        after = [(await one()).status_code for _ in range(20)]
    print(
        f"\n## overload (queue_size 4, 64 at once): {statuses.count(200)} answered 200, "
        f"{statuses.count(503)} got 503 (Retry-After {retry}, JSON error: {json_errors}), "
        f"other {len(statuses) - statuses.count(200) - statuses.count(503)}; then 20 in a row: "
        f"{after.count(200)} × 200"
    )
    server.stop()


def bad_requests(jpeg: bytes) -> list[tuple[str, int, dict]]:
    """(kind, intended status, httpx request arguments) of each bad request kind."""
    key = {"Authorization": "Bearer bench-key"}
    big = b"\xff" * (40 * 2**20)

    def source(spec: str) -> dict:
        return {"json": {"source": spec}, "headers": key, "path": "/v1/streams"}

    def upload(field: str, data: bytes, headers: dict | None = key) -> dict:
        return {"files": [(field, data)], "headers": headers or {}}

    return [
        ("non-image", 415, upload("image", b"just text, no image")),
        ("truncated JPEG", 422, upload("image", truncated_jpeg(jpeg))),
        ("40 MB body", 413, upload("image", big)),
        ("PNG bomb 20000²", 413, upload("image", giant_png())),
        ("wrong field name", 422, upload("file", jpeg)),
        ("missing API key", 401, upload("image", jpeg, None)),
        ("wrong API key", 401, upload("image", jpeg, {"Authorization": "Bearer x"})),
        ("forbidden source", 422, source("file:///etc/passwd")),
        ("metadata host", 422, source("http://169.254.169.254/latest/meta-data/")),
        ("path traversal", 422, source("../../etc/passwd")),
    ]


async def bad_input_phase(ckpt: str, images, expected, count: int = 500) -> None:
    server = Server(
        ckpt, "serve.api_key=bench-key", "serve.queue_size=256", "serve.max_upload_mb=20"
    ).wait({"Authorization": "Bearer bench-key"})
    kinds = bad_requests(images[0])
    tally: dict[str, list[int]] = {kind: [0, 0] for kind, _, _ in kinds}  # [as intended, not]
    good = Run()
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=16)) as client:
        queue = list(range(2 * count))
        key = {"Authorization": "Bearer bench-key"}

        async def worker() -> None:
            while queue:
                index = queue.pop()
                if index % 2:  # a good request
                    image = index % len(images)
                    start = time.perf_counter()
                    response = await client.post(
                        f"{server.url}/v1/detect",
                        params=OPTIONS,
                        files=[("image", images[image])],
                        headers=key,
                    )
                    if response.status_code != 200:
                        good.failed += 1
                        continue
                    good.latencies.append(time.perf_counter() - start)
                    good.mismatched += response.json()["results"] != [expected[image]]
                    continue
                kind, status, arguments = kinds[(index // 2) % len(kinds)]
                arguments = dict(arguments)
                path = arguments.pop("path", "/v1/detect")
                try:
                    response = await client.post(f"{server.url}{path}", **arguments)
                    ok = response.status_code == status and "error" in response.json()
                except httpx.HTTPError:
                    ok = False
                tally[kind][0 if ok else 1] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(16)))
        good.wall = time.perf_counter() - start
    print(f"\n## bad input: {count} bad requests mixed with {count} good ones, 16 clients")
    for (kind, status, _), (right, wrong) in zip(kinds, tally.values(), strict=True):
        print(f"{kind:18s} → {status}: {right} as intended, {wrong} not")
    print(f"good requests: {good.row()}")
    server.stop()


async def soak_phase(ckpt: str, images, expected, seconds: float) -> None:
    server = Server(ckpt, "serve.max_batch=8", "serve.queue_size=256").wait()
    samples = [(0.0, server.rss_mb())]
    total = Run()
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        total.add(await load(server.url, images, expected, 16, 320))
        elapsed = time.monotonic() - start
        if elapsed - samples[-1][0] >= 30:
            samples.append((elapsed, server.rss_mb()))
    samples.append((time.monotonic() - start, server.rss_mb()))
    print(f"\n## soak: {seconds:.0f} s, 16 clients, max_batch 8: {total.row()}")
    print("RSS (MB) by time (s): " + ", ".join(f"{t:.0f}: {rss:.0f}" for t, rss in samples))
    start_mb, warm_mb, end_mb = samples[0][1], samples[1][1], samples[-1][1]
    print(f"RSS start {start_mb:.0f} MB, after warm-up {warm_mb:.0f} MB, end {end_mb:.0f} MB")
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="weights to serve (any detect serve takes)")
    parser.add_argument("--images", type=int, default=64, help="real COCO val images used")
    parser.add_argument("--per-client", type=int, default=8, help="requests per client per turn")
    parser.add_argument("--phases", default="load,workers,overload,bad", help="comma-separated")
    parser.add_argument("--soak", type=float, default=0, help="soak seconds (0: none)")
    parser.add_argument(
        "--mixed-sizes",
        action="store_true",
        help="COCO images of any size (default: of the most common size, as a camera fleet "
        "sends; the detector batches images of one size together, mixed sizes split a batch)",
    )
    args = parser.parse_args()
    coco = Path(os.environ.get("DETECT_DATA", ROOT.parent / "shared" / "data")) / "coco_subset"
    files = sorted((coco / "val2017").glob("*.jpg"))
    if not args.mixed_sizes:
        sizes = {file: image_size(file) for file in files}
        common = collections.Counter(sizes.values()).most_common(1)[0][0]
        files = [file for file in files if sizes[file] == common]
    files = files[: args.images]
    images = [file.read_bytes() for file in files]
    model = Model(args.ckpt, backend="onnxruntime")
    overhead_phase.model = model
    found = model.predict(files, score_thresh=0.001, max_detections=20)
    expected = [
        {"width": w, "height": h, "detections": d.to_records()}
        for d, (h, w) in zip(found, (decode_image(i, "x").shape[:2] for i in images), strict=True)
    ]
    shapes = collections.Counter(f"{e['width']}×{e['height']}" for e in expected)
    print(f"model: {model}; {len(images)} COCO images {dict(shapes)}; {os.cpu_count()} cores")
    phases = set(args.phases.split(",")) if args.phases else set()
    if "load" in phases:
        load_phase(args.ckpt, images, expected, args.per_client)
    if "workers" in phases:
        workers_phase(args.ckpt, images, expected, 16 * args.per_client)
    if "overload" in phases:
        asyncio.run(overload_phase(args.ckpt, images[0]))
    if "bad" in phases:
        asyncio.run(bad_input_phase(args.ckpt, images, expected))
    if args.soak:
        asyncio.run(soak_phase(args.ckpt, images, expected, args.soak))


if __name__ == "__main__":
    try:
        main()
    finally:
        for server in STARTED:
            server.stop()
