"""The synthetic moving-shapes video and its ground truth: python tools/synth_video.py --help
(the same as `detect synth-video …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("synth-video")
