"""Inference latency, params and MAdds of SSDLite configurations or a checkpoint, optionally
beside torchvision's SSDLite on the same weights: python tools/bench.py --help
(the same as `detect bench …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("bench")
