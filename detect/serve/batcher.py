"""Dynamic batching: images from any number of requests gathered into one detector call.

One asyncio queue (bounded: a full queue refuses at once, :class:`Overloaded` → 503 +
Retry-After, so memory never grows with the load) and one worker task. The worker takes the
first waiting image, then up to ``max_batch`` - 1 more, waiting at most ``max_wait_ms`` for
them, and calls the detector in a thread (the event loop keeps answering); images that arrive
meanwhile form the next batch. The detector is any :class:`~detect.models.predictor.Detector`
(ONNX Runtime, PyTorch, LiteRT): it takes (3, H, W) uint8 tensors of any sizes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from detect.models.predictor import Detector


class Overloaded(Exception):
    """The queue has no room for a request's images."""


@dataclass(eq=False)
class Item:
    image: np.ndarray  # (3, H, W) uint8 RGB
    future: asyncio.Future[dict[str, Any]]
    queued_at: float


class Batcher:
    """``await batcher.detect(images)`` → the detector's output per image, in order.
    ``on_batch(size, seconds)`` is told each call (metrics)."""

    def __init__(
        self,
        detector: Detector,
        max_batch: int,
        max_wait_ms: float,
        queue_size: int,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.detector, self.max_batch = detector, max_batch
        self.max_wait = max_wait_ms / 1000
        self.queue_size, self.on_batch = queue_size, on_batch
        self.queue: asyncio.Queue[Item] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        self.batches = 0

    @property
    def depth(self) -> int:
        """Images waiting now."""
        return self.queue.qsize() if self.queue is not None else 0

    async def start(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_size)
        self.worker = asyncio.create_task(self.run(), name="batcher")

    async def stop(self) -> None:
        """Finish what is queued, then stop the worker."""
        if self.worker is None:
            return
        while self.queue is not None and not self.queue.empty():
            await asyncio.sleep(0.01)
        self.worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.worker
        self.executor.shutdown(wait=True)
        self.worker = None

    async def detect(self, images: Sequence[np.ndarray]) -> list[dict[str, Any]]:
        """Queue every image of a request (all or none: :class:`Overloaded`), await them."""
        assert self.queue is not None, "Batcher.start() first"
        if self.queue.qsize() + len(images) > self.queue_size:
            raise Overloaded(f"{self.queue.qsize()} images queued (serve.queue_size)")
        loop = asyncio.get_running_loop()
        items = [Item(image, loop.create_future(), time.perf_counter()) for image in images]
        for item in items:
            self.queue.put_nowait(item)
        return list(await asyncio.gather(*(item.future for item in items)))

    async def take(self) -> list[Item]:
        """The next batch: the first image waiting, and the others that come in time."""
        assert self.queue is not None
        batch = [await self.queue.get()]
        deadline = time.perf_counter() + self.max_wait
        while len(batch) < self.max_batch:
            if not self.queue.empty():
                batch.append(self.queue.get_nowait())
                continue
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), left))
            except asyncio.TimeoutError:
                break
        return batch

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self.take()
            batch = [item for item in batch if not item.future.done()]  # cancelled clients
            if not batch:
                continue
            start = time.perf_counter()
            try:
                outputs = await loop.run_in_executor(
                    self.executor, self.call, [item.image for item in batch]
                )
            except Exception as error:  # the detector failed: every waiter hears it
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(error)
                continue
            self.batches += 1
            if self.on_batch is not None:
                self.on_batch(len(batch), time.perf_counter() - start)
            for item, output in zip(batch, outputs, strict=True):
                if not item.future.done():
                    item.future.set_result(output)

    def call(self, images: list[np.ndarray]) -> list[dict[str, Any]]:
        with torch.inference_mode():
            return self.detector([torch.from_numpy(image) for image in images])
