#!/usr/bin/env bash
# One GPU session's training (issue 10: "spend its 15 minutes on one prepared script"), run in
# the repository's root on the GPU machine, which has the repo, the pack made here
#   python bench/gpu_cascade.py pack --out .gpu/data.npz --codec webp --quality 90 --store-size 64 JOB...
# the ImageNet weights (.gpu/efficientnet-lite1-imagenet.fp16.safetensors) and, in .whl/, the
# wheels its Python lacks (pydantic). Results come back as tar chunks in $OUT:
#   python bench/gpu_cascade.py unbundle OUT_DIR --out runs
#   bash bench/gpu_session.sh JOB...        (DEADLINE=seconds for the training, default 470)
set -uo pipefail
OUT=${OUT:-runs/gpu-out}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nproc
python3 -c "import torch, timm, cv2, pydantic; print('torch', torch.__version__, 'timm', timm.__version__, 'cv2', cv2.__version__, 'cuda', torch.cuda.is_available())" || exit 1
export FER_DESKTOP_CACHE=/tmp/fer-desktop-cache
# GPU load every 30 s, to size the next session's jobs
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -l 30 > runs/gpu-util.log 2>&1 &
python3 bench/gpu_cascade.py train --pack .gpu/data.npz --out runs/gpu --deadline "${DEADLINE:-470}" --workers "${WORKERS:-3}" "$@"
kill %1 2>/dev/null
cp runs/gpu-util.log runs/gpu/ 2>/dev/null
for f in runs/gpu/*.log; do echo "== $f"; grep -E "done, val|Error|error|Traceback" "$f" | tail -8; tail -2 "$f"; done
python3 bench/gpu_cascade.py bundle runs/gpu --out "$OUT" --chunk-mib 15
