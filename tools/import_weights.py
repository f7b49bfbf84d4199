"""Write published weights as a detect checkpoint: python tools/import_weights.py --help
(the same as `detect import-weights …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("import-weights")
