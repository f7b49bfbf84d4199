"""Scan a dataset and report what it holds: python tools/check_dataset.py --help
(the same as `detect check-data …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("check-data")
