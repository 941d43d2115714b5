#!/bin/sh
# The Dockerfile's runtime stage: a virtual environment at PREFIX with quota-watch installed from
# WHEEL_DIR only (no package index), then a smoke check that the console script, the collectors
# and the rule pack load. tests/deploy/test_deploy.py runs this script the same way.
#
#   usage: sh deploy/install-wheel.sh WHEEL_DIR PREFIX
# $PYTHON (default python3) must be Python 3.11 or newer; the venv is made from it.
set -eu
wheels=${1:?usage: install-wheel.sh WHEEL_DIR PREFIX}
prefix=${2:?usage: install-wheel.sh WHEEL_DIR PREFIX}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
"${PYTHON:-python3}" -m venv "$prefix"
"$prefix/bin/python" -m pip install --quiet --no-index --find-links "$wheels" quota-watch
"$prefix/bin/quota-watch" --help >/dev/null
"$prefix/bin/quota-watch" collectors list >/dev/null
"$prefix/bin/python" -I - <<'PY'
from importlib.resources import files

pack = files("quota_watch.engine").joinpath("default.toml")
if not pack.is_file():
    raise SystemExit("the rule pack quota_watch/engine/default.toml is missing")
PY
