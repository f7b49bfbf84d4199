"""Train SSDLite on a MobileNet backbone: python tools/train.py --help
(the same as `detect train …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("train")
