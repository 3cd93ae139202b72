"""The linear probe: embed images with the frozen backbone, fit the head exactly, predict out of
fold, and pick the "none of these" and "not sure" thresholds from those predictions."""

from __future__ import annotations

from ..app.classifier import DEFAULT_SURE_THRESHOLD, top_two
from ..core import OTHER
from .archs import embeddings
from .recipe import Recipe

# Where `fit` stores the thresholds on a Learner; they travel in export.pkl.
THRESHOLD_ATTR, SURE_ATTR = "other_threshold", "sure_threshold"


def threshold(learn) -> float:
    """The "none of these" threshold stored on `learn` (0.5 for a learner trained elsewhere)."""
    return vars(learn).get(THRESHOLD_ATTR, 0.5)


def set_threshold(learn, value: float) -> None:
    setattr(learn, THRESHOLD_ATTR, float(value))


def sure_threshold(learn) -> float:
    """The "not sure" threshold stored on `learn` (DEFAULT_SURE_THRESHOLD for a learner trained elsewhere)."""
    return vars(learn).get(SURE_ATTR, DEFAULT_SURE_THRESHOLD)


def set_sure_threshold(learn, value: float) -> None:
    setattr(learn, SURE_ATTR, float(value))


def embed(learn, items, mirror: bool = False, verbose: bool = True):
    """The head's inputs for `items` under the validation transform (and for their mirror
    images), with their labels; on the CPU: (x, x_mirrored or None, y)."""
    import torch
    from fastprogress.fastprogress import progress_bar

    dl = learn.dls.test_dl(items, with_labels=True)
    learn.model.eval()
    xs, xfs, ys = [], [], []
    with torch.no_grad():
        for xb, yb in progress_bar(dl) if verbose else dl:
            f = embeddings(learn.model, torch.cat([xb, xb.flip(3)]) if mirror else xb)
            f = f.float().cpu().as_subclass(torch.Tensor)
            x, xf = f.chunk(2) if mirror else (f, None)
            xs.append(x)
            xfs.append(xf)
            ys.append(yb.cpu().as_subclass(torch.Tensor))
    return torch.cat(xs), torch.cat(xfs) if mirror else None, torch.cat(ys)


def fit_head(x, y, w0, b0, l2: float):
    """Multinomial logistic regression by L-BFGS: cross-entropy + l2 * |W - W0|^2. Returns (W, b)."""
    import torch

    x, w0, b0 = x.double(), w0.double(), b0.double()
    w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    opt = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w.T + b, y) + l2 * ((w - w0) ** 2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return w.detach().float(), b.detach().float()


def pick_threshold(p_other, reject: float) -> float:
    """P(other) at and above which a picture is answered "none of these", so that `reject` of
    these negatives' probabilities reach it; never below 0.5 nor above 0.99."""
    import numpy as np

    if len(p_other) == 0:
        return 0.5
    return float(np.clip(np.quantile(np.asarray(p_other, dtype=float), 1 - reject), 0.5, 0.99))


def pick_sure_threshold(probs, y, vocab: list[str], other_threshold: float, right: float) -> float:
    """The lowest share of the top two classes' probability (app.classifier.top_two) at and above
    which the answers to these rows (probabilities `probs`, labels `y`) are right at least `right`
    of the time, with 95 % confidence; answers below it are "not sure". Only rows of the model's
    classes that are not answered "none of these" count: a picture of none of them that slips
    through is the "none of these" threshold's to catch. The confidence (the lower end of Wilson's
    interval) guards against a line that meets `right` by luck: it is chosen on these very rows.
    0.5 (every answer sure) when all of them together are right often enough; never above 0.99."""
    import numpy as np

    classes = [c for c in vocab if c != OTHER]
    shares, oks = [], []
    for row, label in zip(probs.tolist(), y.tolist()):
        p = dict(zip(vocab, row))
        if vocab[label] != OTHER and p.get(OTHER, 0.0) < other_threshold:
            top, _, share = top_two(p, classes)
            shares.append(share)
            oks.append(top == vocab[label])
    order = np.argsort(-np.asarray(shares), kind="stable")
    share, ok = np.asarray(shares)[order], np.asarray(oks, dtype=bool)[order]
    low = wilson_lower(np.cumsum(ok), np.arange(1, len(ok) + 1))  # of the answers at or above each share
    if len(ok) and low[-1] >= right:
        return 0.5
    lines = share[(low >= right) & np.append(share[1:] != share[:-1], True)]  # ties go together
    return float(min(lines.min(), 0.99)) if len(lines) else 0.99


def wilson_lower(k, n, z: float = 1.645):
    """The lower end of Wilson's score interval for `k` successes of `n` (numpy arrays): with
    z = 1.645, the true rate is above it with 95 % confidence."""
    import numpy as np

    p = k / n
    return (p + z * z / (2 * n) - z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)


def out_of_fold(x, y, w0, b0, recipe: Recipe, xf=None):
    """Class probabilities (n, classes) for every row of `x`, each from a head fitted (fit_head)
    on the other folds (with their mirror images `xf`); None when a class has under 2 rows."""
    import numpy as np
    import torch
    from sklearn.model_selection import StratifiedKFold

    folds = min(5, min(torch.bincount(y).tolist()))
    if folds < 2:
        return None
    probs = torch.zeros(len(y), len(w0))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=recipe.seed).split(np.zeros(len(y)), y.numpy()):
        tr, te = torch.as_tensor(tr), torch.as_tensor(te)
        xs, ys = (x[tr], y[tr]) if xf is None else (torch.cat([x[tr], xf[tr]]), torch.cat([y[tr], y[tr]]))
        w, b = fit_head(xs, ys, w0, b0, recipe.head_l2)
        probs[te] = torch.softmax(x[te] @ w.T + b, 1)
    return probs
