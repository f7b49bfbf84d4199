#!/usr/bin/env bash
# Refresh requirements/dev.lock: the pins README's test command and .ci/run install with
# (`uv pip install -c requirements/dev.lock -e ".[dev]"`; pip takes the same file), so that the
# install resolves at once instead of backtracking through torch's releases. One command, from
# anywhere in the checkout:
#
#   bash tools/lock.sh              # keeps the pins that still fit, resolves what changed
#   bash tools/lock.sh --upgrade    # every pin to its newest allowed release
#
# Re-run it after any change to pyproject.toml's dependencies or extras: tests/test_lock.py
# fails while the lock no longer satisfies pyproject.toml. pip-tools resolves with pip's own
# resolver and pip's configuration (index, mirrors, constraints), for the Python that runs this
# script: run it with CI's, CPython 3.11 on linux x86_64. (uv pip compile was tried first: it
# ignores Requires-Python upper bounds and pinned backports.strenum 1.3.1, which pip refuses on
# 3.11.) The tool lives in a throwaway environment, so any interpreter with venv will do.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
"$python" -m venv "$tool"
"$tool/bin/pip" install -q "pip-tools==7.7.0"
# the dev extra and all it pulls in, resolved as one set; detect itself (the extra's
# self-reference) is installed from the checkout, never pinned
CUSTOM_COMPILE_COMMAND="bash tools/lock.sh" "$tool/bin/pip-compile" -q --extra dev --strip-extras \
  --unsafe-package detect-ssdlite --no-emit-index-url --no-emit-find-links --no-allow-unsafe \
  -o requirements/dev.lock "$@" pyproject.toml
# mediapipe alone, as README installs it: --no-deps (its wheel would add a second OpenCV)
mediapipe=$("$tool/bin/pip" install -q --dry-run --no-deps --ignore-installed --report - \
  "mediapipe>=1.2.2,<1.3" | "$tool/bin/python" -c \
  'import json, sys; print(json.load(sys.stdin)["install"][0]["metadata"]["version"])')
printf '%s\nmediapipe==%s\n' "# installed --no-deps: see the mediapipe extra in pyproject.toml" \
  "$mediapipe" >> requirements/dev.lock
