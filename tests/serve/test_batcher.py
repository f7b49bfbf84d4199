"""The dynamic batcher alone: concurrent requests share detector calls up to max_batch, each
gets its own image's output back, a full queue refuses at once, a failing detector fails its
waiters (not the server)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from support.streams import Recorder

from detect.serve.batcher import Batcher, Overloaded


def image(value: int) -> np.ndarray:
    return np.full((3, 8, 8), value, np.uint8)


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_calls_and_get_their_own_outputs():
    recorder = Recorder(delay=0.02)

    async def main() -> list[list[int]]:
        batcher = Batcher(recorder, max_batch=4, max_wait_ms=20, queue_size=64)
        await batcher.start()
        try:
            requests = [batcher.detect([image(i), image(100 + i)]) for i in range(6)]
            return [
                [int(o["boxes"].shape[0]) for o in outputs]
                for outputs in await asyncio.gather(*requests)
            ]
        finally:
            await batcher.stop()

    counts = run(main())
    assert counts == [[1, 1]] * 6
    assert sum(recorder.batch_sizes) == 12 and max(recorder.batch_sizes) == 4
    assert len(recorder.batch_sizes) <= 4  # 12 images in at most 4 calls, not 12
    # every image reached the detector once, in a request's order
    assert sorted(recorder.first_pixels) == sorted([*range(6), *range(100, 106)])


def test_outputs_go_back_to_their_requests():
    class Echo:
        def __call__(self, images):
            return [{"value": int(im[0, 0, 0])} for im in images]

    async def main() -> list[list[int]]:
        batcher = Batcher(Echo(), max_batch=8, max_wait_ms=10, queue_size=64)
        await batcher.start()
        try:
            requests = [batcher.detect([image(i), image(i + 50)]) for i in range(20)]
            return [[o["value"] for o in out] for out in await asyncio.gather(*requests)]
        finally:
            await batcher.stop()

    assert run(main()) == [[i, i + 50] for i in range(20)]


def test_max_batch_one_never_batches():
    recorder = Recorder()

    async def main() -> None:
        batcher = Batcher(recorder, max_batch=1, max_wait_ms=50, queue_size=64)
        await batcher.start()
        await asyncio.gather(*(batcher.detect([image(i)]) for i in range(5)))
        await batcher.stop()

    run(main())
    assert recorder.batch_sizes == [1] * 5


def test_a_full_queue_refuses_a_whole_request():
    recorder = Recorder(delay=0.2)

    async def main() -> tuple[int, int]:
        batcher = Batcher(recorder, max_batch=1, max_wait_ms=0, queue_size=3)
        await batcher.start()
        first = asyncio.create_task(batcher.detect([image(0)]))
        await asyncio.sleep(0.05)  # taken by the worker: the queue is empty again
        waiting = asyncio.create_task(batcher.detect([image(1), image(2)]))
        await asyncio.sleep(0)
        with pytest.raises(Overloaded):
            await batcher.detect([image(3), image(4)])  # 2 queued + 2 > 3: none queued
        assert batcher.depth == 2
        await asyncio.gather(first, waiting)
        await batcher.stop()
        return batcher.depth, len(recorder.first_pixels)

    assert run(main()) == (0, 3)


def test_a_failing_detector_fails_its_waiters_only():
    def broken(images):
        raise RuntimeError("detector down")

    async def main() -> None:
        batcher = Batcher(broken, max_batch=4, max_wait_ms=1, queue_size=8)
        await batcher.start()
        with pytest.raises(RuntimeError, match="detector down"):
            await batcher.detect([image(0)])
        assert not batcher.worker.done()  # still serving
        await batcher.stop()

    run(main())
