"""Which view of the band-DE features does the logistic regression (the EEG
student's teacher) score best on subject-held-out folds? Prints mean +- std
balanced accuracy per view; the card notes (export/eeg_card_notes.md) quote it.

    python export/probe_eeg_feature_views.py --data ../shared/data/eeg/features/deap/deap_band_features.csv
"""

from __future__ import annotations

import argparse

import numpy as np

from edgeaffect.eeg.electrodes import DEAP_32
from edgeaffect.eeg.features import prepare_tokens, reference_to_electrode_mean, standardize_per_subject
from edgeaffect.eeg.train import head_metrics, load_training_tables, logistic_regression, subject_folds

#: Left/right 10-20 pairs (DASM, Zheng & Lu 2015): frontal alpha asymmetry is the classic valence cue.
HEMISPHERE_PAIRS = (("Fp1", "Fp2"), ("AF3", "AF4"), ("F3", "F4"), ("F7", "F8"), ("FC5", "FC6"), ("FC1", "FC2"),
                    ("C3", "C4"), ("T7", "T8"), ("CP5", "CP6"), ("CP1", "CP2"), ("P3", "P4"), ("P7", "P8"),
                    ("PO3", "PO4"), ("O1", "O2"))


def rank_per_subject(tokens: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """Each subject's features replaced by their rank among its own rows, scaled to [-1, 1]."""
    out = np.empty_like(tokens, dtype=np.float32)
    for s in np.unique(subjects):
        rows = subjects == s
        out[rows] = (tokens[rows].argsort(0).argsort(0) + 0.5) / rows.sum() * 2 - 1
    return out


def feature_views(table) -> dict[str, np.ndarray]:
    s = table.subjects
    flat = lambda t: t.reshape(len(t), -1)  # noqa: E731
    referenced = reference_to_electrode_mean(table.tokens, table.present)
    index = {name: i for i, name in enumerate(DEAP_32)}
    left, right = [index[a] for a, _ in HEMISPHERE_PAIRS], [index[b] for _, b in HEMISPHERE_PAIRS]
    asymmetry = flat(standardize_per_subject(referenced[:, left] - referenced[:, right], s))
    shipped = flat(prepare_tokens(table.tokens, s, table.present))
    unreferenced = flat(standardize_per_subject(table.tokens, s))
    return {"shipped input": shipped,
            "shipped + asymmetry": np.concatenate([shipped, asymmetry], 1),
            "asymmetry alone": asymmetry,
            "rank per subject": flat(rank_per_subject(referenced, s)),
            "no electrode-mean reference": unreferenced,
            "shipped + unreferenced": np.concatenate([shipped, unreferenced], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a band-feature CSV (subject, video, labels, features)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--fold-seeds", default="0,1,2")
    parser.add_argument("--l2", type=float, default=10.0)
    args = parser.parse_args()
    table, _ = load_training_tables(args.data, [])
    for name, x in feature_views(table).items():
        scores = {"valence": [], "arousal": []}
        for seed in (int(v) for v in args.fold_seeds.split(",")):
            for test_subjects in subject_folds(table.subjects, args.folds, seed):
                test = np.isin(table.subjects, test_subjects)
                m = head_metrics(table.labels[test], logistic_regression(x[~test], table.labels[~test], x[test], l2=args.l2))
                for head in scores:
                    scores[head].append(m[f"{head}_balanced_accuracy"])
        print(f"{name:28s} " + "  ".join(f"{h} {np.mean(v):.3f} +- {np.std(v):.3f}" for h, v in scores.items()),
              flush=True)


if __name__ == "__main__":
    main()
