"""The tie rule's effect on bench accuracy, image by image: the old rule (argpartition: ties broken
arbitrarily) on the old exports against the new rule (ties to the lower index) on the new ones.

    .venv/bin/python experiments/tie_rule.py OLD_EXPORTS NEW_EXPORTS SPLIT_DIR ARTIFACT...
"""

import sys
import warnings
from pathlib import Path

import numpy as np

from sportsedge.bench.accuracy import label_indices, labelled_images
from sportsedge.runtime import Classifier
from sportsedge.runtime.imagesets import load_images

base, new, data = sys.argv[1], sys.argv[2], Path(sys.argv[3])
paths, names = labelled_images(data)
for _ in [0]:
    for art in sys.argv[4:]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cb, cn = Classifier.load(f"{base}/{art}", threads=1), Classifier.load(f"{new}/{art}", threads=1)
        px, kept = load_images([Path(p) for p in paths], cb.input_size, "x")
        y = label_indices(names, cb.labels, art)
        pb = np.concatenate([cb.scores(px[i : i + 64]) for i in range(0, len(px), 64)])
        pn = np.concatenate([cn.scores(px[i : i + 64]) for i in range(0, len(px), 64)])
        same = np.array_equal(pb, pn)
        old1 = np.argpartition(-pb, 0, axis=1)[:, 0]
        new1 = pn.argmax(1)
        diff = np.flatnonzero(old1 != new1)
        old5 = np.argpartition(-pb, 4, axis=1)[:, :5]
        new5 = np.argsort(-pn, 1, kind="stable")[:, :5]
        in_old5 = (old5 == y[:, None]).any(1)
        in_new5 = (new5 == y[:, None]).any(1)
        print(
            f"{art}: old and new scores identical: {same}; top-1 of the two rules differs on {len(diff)} images; "
            f"top-1 {np.mean(old1 == y):.3f} -> {np.mean(new1 == y):.3f}; "
            f"top-5 {in_old5.mean():.3f} -> {in_new5.mean():.3f}"
        )
        for i in diff:
            name, labels = Path(paths[i]).relative_to(data), cb.labels
            tied = pb[i, old1[i]] == pb[i, new1[i]]
            print(
                f"   {name}: true {labels[y[i]]!r}; old {labels[old1[i]]!r}, new {labels[new1[i]]!r}; "
                f"tied at {pb[i, new1[i]]:.4f}: {tied}"
            )
        for i in np.flatnonzero(in_old5 != in_new5):
            s = np.sort(pn[i])
            print(
                f"   top-5 {Path(paths[i]).relative_to(data)}: true label in old top-5 {in_old5[i]}, in new "
                f"{in_new5[i]} (5th score {s[-5]:.4f}, tied with the 6th: {s[-5] == s[-6]})"
            )
