#!/bin/sh
# The Dockerfile's build stage: the quota-watch wheel plus a wheel of every dependency, built for
# whatever machine runs it (amd64 or arm64 alike), into WHEEL_DIR. The runtime stage installs
# from there with no index (deploy/install-wheel.sh). tests/deploy/test_deploy.py runs this script too.
#
#   usage: sh deploy/build-wheels.sh SOURCE_DIR WHEEL_DIR
# $PYTHON (default python3) must be Python 3.11 or newer, with pip.
set -eu
src=${1:?usage: build-wheels.sh SOURCE_DIR WHEEL_DIR}
out=${2:?usage: build-wheels.sh SOURCE_DIR WHEEL_DIR}
python=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
mkdir -p "$out"
"$python" -m pip wheel --quiet --wheel-dir "$out" "$src"

# Fail the build, not the first start, when the wheel lacks a part the daemon needs.
"$python" -I - "$out" <<'PY'
import sys
import zipfile
from pathlib import Path

wheels = sorted(Path(sys.argv[1]).glob("quota_watch-*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one quota_watch wheel in {sys.argv[1]}, found {len(wheels)}")
names = set(zipfile.ZipFile(wheels[0]).namelist())
needed = {
    "quota_watch/__init__.py",
    "quota_watch_collectors/__init__.py",
    "quota_watch/engine/default.toml",
    "quota_watch/store/migrations/env.py",
}
missing = sorted(needed - names)
if missing:
    sys.exit(f"{wheels[0].name} lacks {', '.join(missing)}")
tests = sorted(n for n in names if "/tests/" in n)
if tests:
    sys.exit(f"{wheels[0].name} ships collector tests, e.g. {tests[0]}")
print(f"{wheels[0].name}: {len(names)} files")
PY
