#!/usr/bin/env bash
# The install a user gets from a wheel, checked end to end: build the wheel, install it into a
# fresh venv (its own dependencies, nothing from this clone), leave the source tree, and use it:
# `fer-desktop predict` on a real face gives a label with the bundled model from the wheel,
# `fer-train evaluate --help` works, and bench/startup.py times the --help commands.
#
#   bash packaging/check_wheel.sh            # PYTHON=python3.11 to choose the interpreter
#
# pip takes torch from its cache or a local wheel store when it can (the CI machine has one),
# so this costs the unpacking, not a download. Prints the seconds each step took.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/fer-wheel-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { echo "check_wheel: $* ($((SECONDS - t0)) s)"; t0=$SECONDS; }
t0=$SECONDS

"$python" -m pip wheel --no-deps --quiet --wheel-dir "$work/dist" "$repo"
wheel=$(ls "$work"/dist/fer_desktop-*.whl)
step "built $(basename "$wheel"), $(du -k "$wheel" | cut -f1) kB"
# The listing goes to a file first: `unzip -l | grep -q` under pipefail fails whenever grep quits
# at the first match before unzip has written its last line (unzip dies of SIGPIPE).
unzip -Z1 "$wheel" > "$work/wheel-files.txt"
grep -qx "trainer/resources/models/default.safetensors" "$work/wheel-files.txt" \
    || { echo "check_wheel: the wheel lacks the bundled model" >&2; exit 1; }

"$python" -m venv "$work/venv"
# --no-compile: the first start compiles what it imports; pip would compile all of torch.
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile "$wheel"
step "installed into a fresh venv ($(du -sh "$work/venv" | cut -f1))"

cd "$work"  # nothing of the clone on sys.path from here on
bin="$work/venv/bin"
where=$("$bin/python" -c "import trainer, fer_desktop; print(trainer.__file__, fer_desktop.__file__)")
case "$where" in "$repo"*|*" $repo"*) echo "check_wheel: imported from the clone: $where" >&2; exit 1;; esac

# A real face that ships with a dependency: Grace Hopper in matplotlib's sample data (public domain).
face=$("$bin/python" -c "import matplotlib, os; print(os.path.join(matplotlib.get_data_path(), 'sample_data', 'grace_hopper.jpg'))")
"$bin/fer-desktop" predict "$face" --json > predict.json
"$bin/python" - "$work/venv" <<'PY'
import json, sys
doc = json.load(open("predict.json"))
faces = doc["images"][0]["faces"]
assert doc["images"][0]["error"] is None and len(faces) == 1, doc
assert doc["model_path"].startswith(sys.argv[1]), f"model not from the wheel: {doc['model_path']}"
face = faces[0]
assert face["label"] in doc["classes"] and abs(sum(face["probs"].values()) - 1) < 1e-3, face
print(f"check_wheel: fer-desktop predict grace_hopper.jpg -> {face['label']} {face['confidence']:.0%} "
      f"({doc['model']}, bundled in the wheel)")
PY
step "predicted"
"$bin/fer-train" evaluate --help > /dev/null
"$bin/fer-train" predict "$face" > /dev/null
step "fer-train evaluate --help and predict ran"
"$bin/python" "$repo/bench/startup.py" --bin "$bin" --only help --runs 3
step "timed"
