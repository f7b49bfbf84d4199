"""Detect objects on images, videos, webcams and network streams: python tools/predict.py --help
(the same as `detect predict …`).

(Not tools/detect.py: Python puts a script's folder first on sys.path, so a tools/detect.py
would shadow the ``detect`` package for every tool in this folder.)
"""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("predict")
