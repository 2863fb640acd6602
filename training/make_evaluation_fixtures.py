"""Reference values for the Swift Evaluation target, from independent implementations: scikit-learn
(precision/recall/F1, confusion matrix, accuracy, one-vs-rest ROC AUC), pycocotools (COCO 101-point AP at
IoU 0.5), scipy (the NLL-minimising temperature) and the hand-checked ECE of training/metrics.py.
Random inputs only (no data). python training/make_evaluation_fixtures.py -> Tests/Fixtures/evaluation/metrics_cases.json"""
import json, sys
from pathlib import Path
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score
sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "evaluation" / "metrics_cases.json"  # no torch needed


def coco_ap50(dets, gts):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    n = len(gts)
    images = [dict(id=i, width=256, height=256) for i in range(n)]
    ann = [dict(id=k + 1, image_id=i, category_id=1, bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
                area=float((b[2] - b[0]) * (b[3] - b[1])), iscrowd=0)
           for k, (i, b) in enumerate((i, b) for i, g in enumerate(gts) for b in g)]
    c = COCO(); c.dataset = dict(images=images, annotations=ann, categories=[dict(id=1, name="lesion")]); c.createIndex()
    res = [dict(image_id=i, category_id=1, bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]], score=float(b[4]))
           for i, dd in enumerate(dets) for b in dd]
    e = COCOeval(c, c.loadRes(res), "bbox"); e.params.iouThrs = np.array([0.5]); e.params.areaRng = [[0, 1e10]]
    e.params.areaRngLbl = ["all"]; e.params.maxDets = [100]; e.evaluate(); e.accumulate()
    return float(e.eval["precision"][0, :, 0, 0, 0].mean())


def ordered(b):
    """A proper box from jittered corners (pycocotools ignores a detection of negative area, as a
    detector never outputs one; the metrics here would count it as a false positive)."""
    return [min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]


def detection_case(seed, n=40):
    rng = np.random.default_rng(seed); gts, dets = [], []
    for _ in range(n):
        g = []
        for _ in range(rng.integers(0, 4)):
            x, y = rng.uniform(0, 200, 2); w, h = rng.uniform(10, 50, 2); g.append([x, y, x + w, y + h])
        g = np.array(g).reshape(-1, 4); gts.append(g)
        dd = [ordered(b + rng.normal(0, 5, 4)) + [round(float(rng.uniform()), 2)] for b in g if rng.random() < 0.8]  # rounded: ties
        dd += [ordered(b + rng.normal(0, 2, 4)) + [round(float(rng.uniform(0, 0.5)), 2)] for b in g if rng.random() < 0.2]  # duplicates
        dd += [[*(lambda x, y: (x, y, x + 30, y + 30))(*rng.uniform(0, 200, 2)), round(float(rng.uniform(0, 0.7)), 2)]
               for _ in range(rng.integers(0, 3))]
        dets.append(np.array(dd).reshape(-1, 5))
    thr = 0.4
    return dict(seed=seed, ground_truth=[g.tolist() for g in gts], detections=[d.tolist() for d in dets],
                ap50_pycocotools=coco_ap50(dets, gts), threshold=thr, at_threshold=metrics.pr_at_threshold(dets, gts, thr))


def predictions_case(seed, n=30):
    """`tumorboard eval --predictions` end to end: reference boxes in whole pixels (boxes.csv holds
    integers), detections as `tumorboard detect` prints them, and pycocotools' AP50 of the two."""
    c = detection_case(seed, n)
    gts = [np.round(np.array(g).reshape(-1, 4)) for g in c["ground_truth"]]
    gts = [g[(g[:, 2] > g[:, 0]) & (g[:, 3] > g[:, 1])] for g in gts]
    dets = [np.array(d).reshape(-1, 5) for d in c["detections"]]
    # image level, lesion / no lesion: an image with a reference box is a tumour image; its score is its top box's (0
    # without one), ranked by scikit-learn's ROC AUC
    from sklearn.metrics import roc_auc_score
    top = [float(d[:, 4].max()) if len(d) else 0.0 for d in dets]
    return dict(seed=seed, ground_truth=[g.astype(int).tolist() for g in gts], detections=c["detections"],
                ap50_pycocotools=coco_ap50(dets, gts), threshold=c["threshold"], at_threshold=metrics.pr_at_threshold(dets, gts, c["threshold"]),
                image_level_auc_sklearn=float(roc_auc_score([len(g) > 0 for g in gts], top)))


def classification_case(seed, n=200, k=3, ties=False, starve=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n); logits = rng.normal(size=(n, k)) * 1.5 + np.eye(k)[y] * rng.uniform(0, 2.5)
    if starve:  # class 1 never predicted: precision 0 by convention (zero_division=0)
        logits[:, 1] -= 100
    p = metrics.softmax(logits)
    if ties:
        p = np.round(p, 1); p = p / p.sum(1, keepdims=True)
    pred = p.argmax(1)
    P, R, F, _ = precision_recall_fscore_support(y, pred, labels=list(range(k)), zero_division=0)
    return dict(seed=seed, labels=y.tolist(), logits=logits.tolist(), probabilities=p.tolist(),
                precision=P.tolist(), recall=R.tolist(), f1=F.tolist(),
                auc=[float(roc_auc_score(y == c, p[:, c])) for c in range(k)],
                macro_auc=float(roc_auc_score(y, p, multi_class="ovr", average="macro")),
                confusion=confusion_matrix(y, pred, labels=list(range(k))).tolist(), accuracy=float(accuracy_score(y, pred)),
                ece15=metrics.ece(y, p, 15), temperature=metrics.fit_temperature(logits, y))


PREDICTIONS_OUT = OUT.parent / "predictions_case.json"


def main():
    if "--predictions" in sys.argv:  # only the eval --predictions fixture (leaves metrics_cases.json as it is)
        PREDICTIONS_OUT.write_text(json.dumps(predictions_case(12), separators=(",", ":")))
        print(PREDICTIONS_OUT, PREDICTIONS_OUT.stat().st_size, "bytes")
        return
    out = dict(notes="references: scikit-learn, pycocotools, scipy (training/make_evaluation_fixtures.py); random inputs",
               classification=[classification_case(0), classification_case(1), classification_case(2, ties=True),
                               classification_case(3, starve=True)],
               detection=[detection_case(10), detection_case(11)])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, separators=(",", ":")))
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
