"""Download and unpack COCO 2017 into data/coco: python tools/prepare_coco.py --help
(the same as `detect prepare-coco …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("prepare-coco")
