"""How long a checkpoint takes to load with backend=auto: cold (export + parity check) against
warm (the export cache), beside an .onnx file: python tools/bench_load.py [--ckpt …] [--rounds N]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed

from benchmarks.model_load import run
from detect.cli import friendly_errors

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split(":")[0])
    parser.add_argument(
        "--ckpt",
        type=Path,
        help="a detect checkpoint (default: a 320-px "
        "V3-Large SSDLite over 80 classes, written for the run)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="loads of each kind (default 5)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime / torch intra-op threads")
    args = parser.parse_args()
    print(friendly_errors(run)(args.ckpt, args.rounds, args.threads))
