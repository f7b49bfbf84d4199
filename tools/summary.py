"""Print one backbone's layer table, feature taps and cost: python tools/summary.py --help
(the same as `detect summary …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("summary")
