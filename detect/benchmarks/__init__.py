"""Benchmarks of our own pipelines on a user's checkpoint, no peer's code in them: the video
pipeline's overlap and memory (``tools/bench_video.py``) and tracking and counting against exact
ground truth (``tools/bench_tracking.py``). The comparisons with other projects' code are in the
checkout's top-level ``benchmarks/``, which the wheel does not ship; ``detect bench`` (latency
per backend) is :mod:`detect.evaluation.bench`. Nothing else in the library imports this
package (an import-linter contract checks it)."""
