"""A CUDA machine checked end to end (training, latency, memory, AMP, SyncBN); a dry run on the
CPU without one: python tools/gpu_check.py --help
(the same as `detect gpu-check …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("gpu-check")
