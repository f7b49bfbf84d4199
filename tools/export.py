"""Export a checkpoint to ONNX (and int8), checked on the spot: python tools/export.py --help
(the same as `detect export …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("export")
