"""Print the params/MAdds table of backbones × widths: python tools/cost.py --help
(the same as `detect cost …`)."""

from detect.cli.main import run_tool

if __name__ == "__main__":
    run_tool("cost")
