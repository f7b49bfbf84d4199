"""Evaluate a checkpoint with COCO mAP: python tools/eval.py --help
(the same as `detect eval …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("eval")
