"""Video pipeline benchmark (overlap and memory): python tools/bench_video.py --help
(the same as `detect bench-video …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("bench-video")
