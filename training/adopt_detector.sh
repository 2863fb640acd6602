#!/usr/bin/env bash
# A detector trained elsewhere (a GPU lease: scripts/gpu-train-detector, chosen on val by training/det_choose.py)
# becomes the shipped one, and everything downstream of it is redone as training/run_all.sh does after its own
# detector stage: the operating threshold on val, the fusion features (detector crops), the fusion head, the
# temperatures, the test evaluation and the fixtures. The lesion and pathology encoders are not retrained (they
# learn from ground-truth crops and generated tiles); the lesion encoder's temperature is refitted (detector crops).
# The detector's model card (models/README.md) is then written by hand: make_cards.py reads the CPU run's
# training/out/detector/train.json, which a checkpoint trained elsewhere does not have.
#   training/adopt_detector.sh training/out/gpu/img384/ema_p90.pt      (about 10 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:?checkpoint}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
mkdir -p training/out/logs; L=training/out/logs
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
log "export $ckpt"; $PY -c "import sys; sys.path.insert(0, 'training'); import export; export.export('detector', ckpt=sys.argv[1])" "$ckpt"
log "threshold"; $PY training/det_threshold.py
log "features"; $PY training/features.py > $L/features.log 2>&1
log "fusion"; $PY training/train_fusion.py > $L/fusion.log 2>&1
$PY training/export.py fusion
log "calibrate"; $PY training/calibrate.py
log "evaluate"; $PY training/evaluate.py > $L/evaluate.log 2>&1
log "fixtures"; $PY training/make_pipeline_fixtures.py && $PY training/make_gradcam_fixture.py && $PY training/make_detector_side_fixture.py \
    && $PY training/make_sample_fixtures.py
log "done"
