"""Benchmarks that run from a checkout (``python tools/bench*.py``, ``tools/gpu_check.py``) and
that the wheel does not ship: chiefly our code beside other projects' on the same work —
torchvision's SSDLite on the same weights (latency, its bare training loop, its data transforms),
pycocotools against faster-coco-eval, the CUDA machine check built on them. Nothing in ``detect``
imports this package (an import-linter contract checks it), so the peers' code never becomes a
dependency of a detector. The configs are in ``benchmarks/conf``, which reaches the shared
groups of ``detect/conf`` through Hydra's search path."""
