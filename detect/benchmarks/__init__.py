"""Benchmarks against peers (torchvision's SSDLite, its training loop and data pipeline) and of
our own pipelines (latency, video). The tools in ``tools/bench*.py`` run them; nothing in the
library imports this package (an import-linter contract checks it), so the peers' code never
becomes a dependency of a detector."""
