#!/usr/bin/env bash
# Build the desktop bundle with PyInstaller and start it as a user would, without a display:
# its size, `fer-desktop predict` from it, and the window rendered offscreen (and under Xvfb when
# xvfb-run is installed) with a screenshot and the seconds to the window, the first frame and the
# first result.
#
#   pip install pyinstaller && bash packaging/check_bundle.sh [OUT_DIR]    (default /tmp/fer-bundle)
#
# PYTHON picks the interpreter whose packages go into the bundle (default: python3 on PATH).
# PyInstaller takes the torch it finds: the CUDA build makes a bundle of several GB, the CPU
# build (torch and torchvision from PyTorch's CPU index) a much smaller one.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-${TMPDIR:-/tmp}/fer-bundle}" && cd "${1:-${TMPDIR:-/tmp}/fer-bundle}" && pwd)
python=${PYTHON:-python3}
t0=$SECONDS
step() { echo "check_bundle: $* ($((SECONDS - t0)) s)"; t0=$SECONDS; }

nice -n 15 "$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$out/dist" --workpath "$out/build" "$repo/packaging/fer-desktop.spec"
app="$out/dist/fer-desktop/fer-desktop"
step "built $app: $(du -sh "$out/dist/fer-desktop" | cut -f1), $(find "$out/dist/fer-desktop" -type f | wc -l) files"

cd "$out"  # away from the clone: the bundle must carry everything it needs
face=$("$python" -c "import matplotlib, os; print(os.path.join(matplotlib.get_data_path(), 'sample_data', 'grace_hopper.jpg'))")
export FER_DESKTOP_SETTINGS="$out/settings.ini"
# An empty cache: the first predict makes the model's ONNX file inside the bundle (torch's
# exporter, frozen), as on a user's first start; the second run reads it.
export FER_DESKTOP_CACHE="$out/cache" && rm -rf "$FER_DESKTOP_CACHE"
for run in cold warm; do
    start=$SECONDS
    /usr/bin/env time -f "check_bundle: predict ($run): %e s, %M KB max RSS" "$app" predict "$face" --json > predict.json
    grep -q '"label"' predict.json || { echo "check_bundle: predict gave no face" >&2; exit 1; }
done
step "predict: $(python3 -c "import json; f=json.load(open('predict.json'))['images'][0]['faces'][0]; print(f['label'], round(f['confidence'], 3))")"

for run in cold warm; do
    QT_QPA_PLATFORM=offscreen "$app" --open "$face" --screenshot "$out/bundle-offscreen-$run.png" --size 1280x800 \
        2>&1 | grep "screenshot" | sed "s/^/check_bundle: offscreen ($run): /"
done
test -s "$out/bundle-offscreen-warm.png"
step "offscreen window"

if command -v xvfb-run > /dev/null; then
    xvfb-run -a -s "-screen 0 1400x900x24" "$app" --open "$face" --screenshot "$out/bundle-xvfb.png" \
        --size 1280x800 2>&1 | grep "screenshot" | sed "s/^/check_bundle: Xvfb: /"
    test -s "$out/bundle-xvfb.png"
    step "X11 window under Xvfb"
fi
echo "check_bundle: screenshots in $out"
