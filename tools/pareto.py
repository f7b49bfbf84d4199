"""mAP against latency, with the Pareto front: python tools/pareto.py --help
(the same as `detect pareto …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("pareto")
