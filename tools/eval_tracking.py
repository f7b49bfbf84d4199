"""Score tracks against MOTChallenge ground truth: python tools/eval_tracking.py --help
(the same as `detect eval-tracking …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("eval-tracking")
