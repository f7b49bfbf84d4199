"""Tracking and counting against exact ground truth: python tools/bench_tracking.py --help
(the same as `detect bench-tracking …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("bench-tracking")
