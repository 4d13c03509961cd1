#!/usr/bin/env bash
# A separate virtualenv with einsdiff and the peers (JAX, PyTorch CPU, HIPS autograd).
# Usage: bash benchmarks/setup.sh && benchmarks/.venv/bin/python benchmarks/run.py
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet --upgrade pip
"$here/.venv/bin/pip" install --quiet -e "$here/.." jax jaxlib autograd "torch==2.13.0"
"$here/.venv/bin/python" -c "import einsdiff, jax, torch, autograd; print('benchmark venv ready: jax', jax.__version__, 'torch', torch.__version__)"
