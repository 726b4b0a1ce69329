#!/usr/bin/env bash
# Install everything the test suite needs, then run it. Extra arguments go to pytest.
#   system: Debian's chromium (browser tests), ffmpeg (ffprobe) and espeak-ng (scratch dialogue),
#           only when missing
#   python: the package with its test, farm (Ray) and quantize (torchao) extras; torch pinned so
#           a CPU-only machine gets the CPU build it has locally instead of gigabytes of CUDA wheels
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python -m pip install -q --disable-pip-version-check "torch==2.13.0" -e ".[test,farm,quantize]"
python tests/security/audit_deps.py    # pip-audit report where its service is reachable; never fails
python -m pytest "$@"
