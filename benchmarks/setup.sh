#!/usr/bin/env bash
# Benchmark set-up: real data from Debian's package, plus the bench extra.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist
fi
python3 -m venv .venv && .venv/bin/pip install -q -e ".[bench]"
