"""LiRA (Carlini et al. 2022, "Membership inference attacks from first principles") with shadow models,
and Feldman's memorization estimate from the same models.

The design of the reference code (research/mi_lira_2021): a pool of N examples and M
models; a seeded *keep matrix* puts every example IN the training set of exactly M/2
models; each model is queried on every pool example, on the original and on
augmented views (at least the horizontal flip); each model in turn is the target and
the others are its shadows. Per example and view, LiRA fits Gaussians to the
statistic φ = log p_y − log Σ_{y'≠y} p_y' (TF Privacy's ``calculate_statistic``,
option ``logit``) over the shadows that had the example IN and OUT, and scores the
target's φ by the likelihood ratio (``advanced_mia.compute_score_lira``):

* online: log N(φ; μ_in, σ_in) − log N(φ; μ_out, σ_out), averaged over views;
* offline: −log N(φ; μ_out, σ_out) (needs only OUT models). TF Privacy's offline score
  uses the density, which is two-sided (an example far *below* the OUT mean also looks
  like a member); Carlini et al.'s one-sided p-value differs there.

Each example is scored on equal shadow counts, as in the reference code (``equal_count_shadows``):
TF Privacy's function scores the lists as given, and with few models that biases it against
members (8 models, no membership signal: AUC 0.44).

TF Privacy returns log Pr(out) − log Pr(in) (members score *low*); our scores are
negated, so that, as everywhere in tfdpfair, a higher score means "member". The scores
are TF Privacy's formula computed on stacked arrays (``compute_score_lira_stacked``,
tested identical to ``compute_score_lira``): theirs takes 1.3 ms per example, hours at
paper scale.

Resolution: with n non-members the smallest non-zero FPR is 1/n, so a TPR at 0.001 %
FPR needs ≥ 100,000 non-member scores. Below that the value is ``None`` ("below
resolution"), never a number read off the ROC's first point.

Storage: ``train_shadow_models`` writes each model's logits (float16, n × views ×
classes: 2.4 MB per model for 60,000 examples, 2 views and 10 classes; ``keep_logits=False``
stores only the statistics, e.g. for CIFAR-100 with 10 views), statistics (float32) and
correctness to ``<dir>/model_<k>.npz`` (atomically) as soon as the model is done; a rerun (or a
``--resume`` after a crash) skips finished models and recomputes nothing. Models are
addressable by index (``indices=``), so a cluster's job array can train them in
parallel into one folder; scoring reads whatever is stored.

Memorization (Feldman 2020; Feldman & Zhang 2020): mem_i = P[correct | i IN] −
P[correct | i OUT], estimated over the stored models on the original view. DeMem
(Luo & Li) bins it: a bin for mem ≤ 0 (negative estimates are noise around 0 and
join it), then 20 equal bins on (0, 1].
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from tfdpfair.errors import InputError
from tfdpfair.evaluation.membership import as_logits, tf_privacy_tests

QUERIES = ("original", "flip", "shift", "crops")
CROP_PAD = 4
"""Pixels of zero padding around an image before the four corner crops of the ``crops`` query."""
FPR_LEVELS = (0.01, 0.001, 0.00001)
MEMORIZATION_BINS = 20
_FORMAT = 1


# %% The keep matrix and the queries
def keep_matrix(*, models: int, examples: int, seed: int) -> np.ndarray:
    """(models, examples) booleans: example i is IN model k's training set; every column has exactly models/2 True.

    ``models`` must be even and ≥ 2. Seeded: the same arguments give the same matrix.
    """
    if isinstance(models, bool) or not isinstance(models, (int, np.integer)) or models < 2 or models % 2:
        raise InputError(f"models must be an even integer >= 2 (each example IN for half of them), got {models!r}")
    if isinstance(examples, bool) or not isinstance(examples, (int, np.integer)) or examples < 1:
        raise InputError(f"examples must be a positive integer, got {examples!r}")
    rng = np.random.default_rng([int(seed), 0x11_8A])
    return rng.random((models, examples)).argsort(axis=0) < models // 2


def query_views(x: np.ndarray, queries: Sequence[str]) -> List[np.ndarray]:
    """The views of images ``x`` (n, height, width, channels) each model is queried on.

    ``original``; ``flip``: mirrored left-right; ``shift``: the original and the flip each
    moved by 2 pixels (edge-padded) right and down; ``crops``: the four corner crops of the
    image zero-padded by ``CROP_PAD`` pixels, each also mirrored with ``flip`` — with
    ``original`` and ``flip`` (the centre crop) DeMem's ten queries (pad 4, five crops, each
    also flipped). Views come in that order.
    """
    unknown = [q for q in queries if q not in QUERIES]
    if unknown or not queries or queries[0] != "original":
        raise InputError(f"queries must start with 'original' and come from {', '.join(QUERIES)}; got {queries!r}")
    views = [x]
    if "flip" in queries:
        if x.ndim < 3:
            raise InputError(f"query 'flip' mirrors images (n, height, width[, channels]); inputs of shape {x.shape} "
                             "are not images: use queries=('original',)")
        views.append(x[:, :, ::-1])
    if "shift" in queries:
        if x.ndim != 4:
            raise InputError("query 'shift' needs images of shape (n, height, width, channels)")
        padded = np.pad(x, ((0, 0), (2, 0), (2, 0), (0, 0)), mode="edge")[:, :x.shape[1], :x.shape[2]]
        views.append(padded)
        if "flip" in queries:
            views.append(padded[:, :, ::-1])
    if "crops" in queries:
        if x.ndim != 4:
            raise InputError("query 'crops' needs images of shape (n, height, width, channels)")
        height, width, pad = x.shape[1], x.shape[2], CROP_PAD
        padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        for top, left in ((0, 0), (0, 2 * pad), (2 * pad, 0), (2 * pad, 2 * pad)):
            crop = padded[:, top:top + height, left:left + width]
            views.append(crop)
            if "flip" in queries:
                views.append(crop[:, :, ::-1])
    return views


def statistic(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """LiRA's φ = log p_y − log Σ_{other} p for logits of shape (..., classes) and labels broadcast to (...)."""
    tfp = tf_privacy_tests()
    shape = logits.shape[:-1]
    flat = np.asarray(logits, dtype=np.float64).reshape(-1, logits.shape[-1])
    labels = np.broadcast_to(np.asarray(labels), shape).reshape(-1).astype(np.int64)
    return tfp.advanced_mia.calculate_statistic(flat, labels, is_logits=True, option="logit").reshape(shape)


def _predict(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Logits of ``model`` on ``x`` (softmax outputs become log-probabilities)."""
    out = model.predict(x, batch_size=batch_size, verbose=0) if hasattr(model, "predict") else model(x)
    return as_logits(np.asarray(out))


# %% The shadow-model store
@dataclasses.dataclass(frozen=True, kw_only=True)
class ShadowModels:
    """The stored statistics of the finished models of one pool.

    Attributes:
      keep: (models, examples) booleans, the full keep matrix (unfinished models included).
      finished: indices of the models whose outputs are stored, ascending.
      stats: (len(finished), examples, views) LiRA statistic of each finished model.
      correct: (len(finished), examples) whether each finished model classifies the original view correctly.
      queries: the views.
    """

    keep: np.ndarray
    finished: np.ndarray
    stats: np.ndarray
    correct: np.ndarray
    queries: Tuple[str, ...]

    @property
    def finished_keep(self) -> np.ndarray:
        return self.keep[self.finished]


def _pool_digest(x: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    for array in (x, y):
        array = np.ascontiguousarray(array)
        h.update(str((array.shape, array.dtype.str)).encode())
        h.update(array.tobytes())
    return h.hexdigest()[:16]


class ShadowStore:
    """A folder of shadow-model outputs: ``manifest.json`` (pool, models, queries, seed, training setting) and
    ``model_<k>.npz``; opening it with another pool or setting is refused."""

    def __init__(self, directory: Path, *, models: int, examples: int, queries: Sequence[str], seed: int,
                 pool: str, setting: Optional[dict] = None) -> None:
        from tfdpfair.files import write_json

        self.directory = Path(directory)
        self.keep = keep_matrix(models=models, examples=examples, seed=seed)
        self.manifest = {"format": _FORMAT, "models": int(models), "examples": int(examples),
                         "queries": list(queries), "seed": int(seed), "pool": pool, "setting": setting}
        from tfdpfair.files import dumps

        self.manifest = json.loads(dumps(self.manifest))  # as stored: tuples → lists, non-finite → null
        path = self.directory / "manifest.json"
        if path.exists():
            try:
                stored = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise InputError(f"{path} is unreadable ({err}); delete the folder to start again") from None
            if not self._same(stored):
                diff = {k: (stored.get(k), v) for k, v in self.manifest.items() if stored.get(k) != v}
                raise InputError(f"{self.directory} holds shadow models of another setting "
                                 f"({', '.join(f'{k}: stored {a!r}, now {b!r}' for k, (a, b) in diff.items())}); "
                                 "use another folder")
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_json(path, self.manifest)

    def _same(self, stored: dict) -> bool:
        """The stored manifest is this one, up to training-config fields added to the code since (at defaults)."""
        from tfdpfair.files import dumps
        from tfdpfair.serialization import same_but_for_added_defaults
        from tfdpfair.training.config import TrainConfig

        defaults = {"setting": {"train": dataclasses.asdict(TrainConfig())}}
        defaults = json.loads(dumps(defaults))
        return same_but_for_added_defaults(stored=stored, current=self.manifest, defaults=defaults)

    def path(self, index: int) -> Path:
        return self.directory / f"model_{index:04d}.npz"

    def finished(self) -> List[int]:
        return [k for k in range(self.manifest["models"]) if self.path(k).exists()]

    def save(self, index: int, *, stats: np.ndarray, correct: np.ndarray, logits: Optional[np.ndarray] = None) -> None:
        import io

        from tfdpfair.files import write_bytes

        buffer = io.BytesIO()
        extra = {} if logits is None else {"logits": logits.astype(np.float16)}
        np.savez(buffer, stats=stats.astype(np.float32), correct=correct.astype(bool), keep=self.keep[index],
                 **extra)
        write_bytes(self.path(index), buffer.getvalue())

    def load(self) -> ShadowModels:
        finished = self.finished()
        import zipfile

        stats, correct = [], []
        n, views = self.manifest["examples"], len(self.manifest["queries"])
        for k in finished:
            try:
                with np.load(self.path(k), allow_pickle=False) as f:
                    keep, stat, right = f["keep"], f["stats"], f["correct"]
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
                raise InputError(f"{self.path(k)} is corrupt or truncated ({type(err).__name__}); delete it to retrain "
                                 "that model") from None
            if not np.array_equal(keep, self.keep[k]) or stat.shape != (n, views) or right.shape != (n,):
                raise InputError(f"{self.path(k)} does not belong to this pool and keep matrix; delete it to retrain")
            stats.append(stat)
            correct.append(right)
        return ShadowModels(keep=self.keep, finished=np.asarray(finished, dtype=np.int64),
                            stats=np.stack(stats) if stats else np.zeros((0, n, views), np.float32),
                            correct=np.stack(correct) if correct else np.zeros((0, n), bool),
                            queries=tuple(self.manifest["queries"]))


TrainFn = Callable[..., object]
"""``train_fn(x, y, *, index)`` → a trained classifier with ``predict`` (Keras) or a callable x → logits."""


def train_shadow_models(*, x: np.ndarray, y: np.ndarray, train_fn: TrainFn, directory: Path, models: int = 16,
                        queries: Sequence[str] = ("original", "flip"), seed: int = 0,
                        indices: Optional[Sequence[int]] = None, batch_size: int = 1000,
                        setting: Optional[dict] = None, keep_logits: bool = True,
                        progress: Optional[Callable[[str], None]] = None) -> ShadowModels:
    """Train the pool's models (those in ``indices``; default all) that are not stored yet, and return all stored.

    ``x``, ``y``: the pool (every example IN for exactly ``models``/2 models). Model k trains
    with ``train_fn(x[keep[k]], y[keep[k]], index=k)``; give each its own randomness
    (``classifier_trainer`` keys its noise stream by ``shadow/<k>``). Each model's
    statistics are written as it finishes. ``setting``: a JSON-able description of the
    training (default: ``train_fn.setting`` when present, as ``classifier_trainer`` sets it),
    stored in the manifest so that a folder is never filled by two different settings.
    ``keep_logits``: also store the logits (float16), for other statistics later.
    ``progress``: called with one line per finished model (e.g. ``print``).
    """
    import time

    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise InputError(f"pool: {len(x)} inputs but {len(y)} labels")
    if setting is None:
        setting = getattr(train_fn, "setting", None)
    store = ShadowStore(directory, models=models, examples=len(x), queries=tuple(queries), seed=seed,
                        pool=_pool_digest(x, y), setting=setting)
    wanted = range(models) if indices is None else list(dict.fromkeys(int(k) for k in indices))
    bad = [k for k in wanted if not 0 <= int(k) < models]
    if bad:
        raise InputError(f"model indices {bad} outside 0..{models - 1}")
    done = set(store.finished())
    views = query_views(x, tuple(queries))
    for k in wanted:
        if k in done:
            continue
        start = time.perf_counter()
        model = train_fn(x[store.keep[k]], y[store.keep[k]], index=int(k))
        logits = np.stack([_predict(model, view, batch_size) for view in views], axis=1)  # (n, views, classes)
        store.save(k, stats=statistic(logits, y[:, None]), correct=np.argmax(logits[:, 0], axis=-1) == y,
                   logits=logits if keep_logits else None)
        if progress:
            finished = len(store.finished())
            progress(f"shadow model {k}: {time.perf_counter() - start:.1f} s ({finished}/{models} stored in "
                     f"{store.directory})")
    return store.load()


def classifier_trainer(*, build: Callable[[], object], dp, train, seed: int, name: str = "shadow",
                       adversarial=None, secure: bool = False) -> TrainFn:
    """A ``train_fn`` training ``build()`` with ``tfdpfair.training.train_classifier`` (DP or not; adversarially
    with an ``AdversarialConfig``) on float inputs.

    Model k's weights are initialised from ``(seed, k)`` and its noise and batches come
    from the stream ``RunStreams(seed, f"{name}/{k}")``: no two shadow models share a draw.
    ``secure``: DP noise and batch sampling from OS entropy at every draw (``--secure-noise``).
    """
    def train_fn(x: np.ndarray, y: np.ndarray, *, index: int):
        from tfdpfair.compat import keras

        from tfdpfair.randomness import RunStreams
        from tfdpfair.training import train_classifier

        streams = RunStreams(seed=seed, name=f"{name}/{index}", secure=secure)
        keras.utils.set_random_seed(streams.int_seed("init"))
        model = build()
        train_classifier(model, x, y, dp=dp, train=train, streams=streams, verbose=0, adversarial=adversarial)
        return model

    train_fn.setting = {"trainer": "train_classifier", "train": dataclasses.asdict(train),
                        "dp": dataclasses.asdict(dp), "seed": int(seed), "streams": name,
                        "model": getattr(build, "__name__", "model")}
    # each only when set: the settings stored in existing pool folders stay as they were
    if adversarial is not None:
        train_fn.setting["adversarial"] = dataclasses.asdict(adversarial)
    if secure:
        train_fn.setting["secure"] = True
    return train_fn


# %% Scores and metrics
FIXED_VARIANCE_BELOW = 64
"""Carlini et al. (§VI-A): below 64 shadow models a global variance estimates better than per-example ones."""


def equal_count_shadows(stat_in: List[np.ndarray], stat_out: List[np.ndarray], *, rng: np.random.Generator,
                        online: bool = True) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Equal shadow counts: online, per example, a random subset of its larger side (IN or OUT) as large as the
    smaller one; offline, every example's OUT side cut to a random subset of the smallest OUT count.

    With every example IN for half of the M models, a member of the target is IN for M/2 − 1
    of the other models and OUT for M/2, a non-member the other way round. The side with fewer
    shadows has the noisier mean, so a score on all of them (TF Privacy's
    ``compute_score_lira`` takes the lists as given) is biased against members: with 8 models
    and no membership signal, online AUC 0.44 and offline 0.46 instead of 0.5
    (``tests/evaluation/test_lira.py``). Carlini et al.'s reference code avoids it by keeping
    the first M/2 − 1 shadows of each side in model order (``generate_ours`` in
    research/mi_lira_2021/plot.py); we keep a random subset instead, because with models of
    different overall confidence a cut by model order leaves a bias whose sign depends on the
    pool (same null pools: 0.487–0.496 by model order, 0.499–0.509 at random). Empty sides
    stay empty (TF Privacy fills them in). Offline on a pool with unfinished models the
    smallest OUT count can be 1, as in the reference.
    """
    def subset(values, m):
        return values if len(values) <= m else values[np.sort(rng.choice(len(values), m, replace=False))]

    if not online:
        sizes = [len(values) for values in stat_out if len(values)]
        return list(stat_in), ([subset(values, min(sizes)) for values in stat_out] if sizes else list(stat_out))
    equal_in, equal_out = [], []
    for values_in, values_out in zip(stat_in, stat_out):
        m = min(len(values_in), len(values_out)) or max(len(values_in), len(values_out))
        equal_in.append(subset(values_in, m))
        equal_out.append(subset(values_out, m))
    return equal_in, equal_out


def compute_score_lira_stacked(stat_target: np.ndarray, stat_in: Sequence[np.ndarray],
                               stat_out: Sequence[np.ndarray], *, option: str = "both",
                               fix_variance: bool = False) -> np.ndarray:
    """TF Privacy's ``advanced_mia.compute_score_lira`` with its default ``median_or_mean="median"``, computed on
    stacked arrays.

    Its other arguments and result (log Pr(out) − log Pr(in) per example; members low):
    ``stat_target`` n × k, ``stat_in[i]`` / ``stat_out[i]`` m_i × k shadow statistics of
    example i (m_i ≥ 0). TF Privacy takes ``np.nanmedian`` of each example's list in turn,
    1.3 ms each through numpy's small-array path: 2.7 s per target for 2,000 examples, hours
    for a paper-scale pool. Here examples with the same number of shadows are stacked and
    reduced in one call (with equal shadow counts that is one or two calls); the fixed
    variance is taken over the same values in the same order as TF Privacy's, and its NaN
    fill-in (``replace_nan_with_column_mean``) is called as is. Tested identical to TF
    Privacy's function, empty and NaN lists included; ``benchmarks/lira_scoring.py`` prints
    the speed-up.
    """
    if option not in ("both", "in", "out"):
        raise ValueError(f'option must be "both", "in" or "out", got {option!r}')
    import scipy.stats

    advanced_mia = tf_privacy_tests().advanced_mia
    stat_target = np.asarray(stat_target)
    k = stat_target.shape[1]

    def fit(lists):
        lists = [np.asarray(values) for values in lists]
        if any(values.ndim != 2 or values.shape[1] != k for values in lists):
            raise ValueError(f"each shadow list must be a 2-d array with {k} columns (one per view)")
        lengths = np.array([len(values) for values in lists], dtype=int)
        dtypes = [values.dtype if np.issubdtype(values.dtype, np.floating) else np.float64 for values in lists]
        dtype = np.result_type(np.float16, *dtypes)  # the dtype of numpy's medians of these lists
        avg, std = np.full((len(lists), k), np.nan, dtype), np.full((len(lists), k), np.nan, dtype)
        for m in np.unique(lengths[lengths > 0]):
            rows = np.flatnonzero(lengths == m)
            stacked = np.stack([lists[i] for i in rows])  # rows × m × k
            avg[rows] = np.nanmedian(stacked, axis=1)
            if not fix_variance:
                std[rows] = np.nanstd(stacked, axis=1)
        advanced_mia.replace_nan_with_column_mean(avg)
        if fix_variance:  # TF Privacy: nanstd of every example's deviations, concatenated in example order
            deviations = [values - avg[i][np.newaxis] for i, values in enumerate(lists)]
            return avg, np.nanstd(np.concatenate(deviations)) if deviations else np.nan
        advanced_mia.replace_nan_with_column_mean(std)
        return avg, std

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # medians of empty or all-NaN lists, as in TF Privacy
        if option in ("in", "both"):
            avg_in, std_in = fit(stat_in)
            log_pr_in = scipy.stats.norm.logpdf(stat_target, avg_in, std_in + 1e-30)
        if option in ("out", "both"):
            avg_out, std_out = fit(stat_out)
            log_pr_out = scipy.stats.norm.logpdf(stat_target, avg_out, std_out + 1e-30)
    if option == "both":
        return -(log_pr_in - log_pr_out).mean(axis=1)
    return -log_pr_in.mean(axis=1) if option == "in" else log_pr_out.mean(axis=1)


EQUAL_COUNT_SEED = 0xBA1
"""Seed of ``equal_count_shadows``' choice (with the target's index): the same scores on every call."""


def lira_scores(shadows: ShadowModels, *, target: int, online: bool = True,
                fix_variance: Optional[bool] = None, equal_counts: bool = True) -> np.ndarray:
    """LiRA scores (higher = member) of every pool example against model ``target``, the other models as shadows.

    ``target`` is a model index (one of ``shadows.finished``). ``fix_variance``: one spread
    for all examples instead of one per example; None chooses it when there are fewer than
    64 shadows (with a handful, an example's IN spread rests on one or two values and the
    per-example Gaussian degenerates). An example with no IN (or OUT) shadow gets TF
    Privacy's fill-in: the average over examples. ``equal_counts``: score on equal shadow
    counts (``equal_count_shadows``, seeded: online, as many IN as OUT shadows per example;
    offline, as many OUT shadows for every example), as Carlini et al.'s code does; False is
    TF Privacy's score on every shadow, biased against members when the models are few.
    """
    position = np.flatnonzero(shadows.finished == target)
    if not len(position):
        raise InputError(f"model {target} is not stored; stored: {shadows.finished.tolist()}")
    others = np.flatnonzero(shadows.finished != target)
    if len(others) < 2:
        raise InputError("LiRA needs at least two shadow models besides the target")
    keep = shadows.finished_keep[others]
    stats = shadows.stats[others]
    n = shadows.stats.shape[1]
    stat_in = [stats[keep[:, i], i, :] for i in range(n)]
    stat_out = [stats[~keep[:, i], i, :] for i in range(n)]
    if equal_counts:
        stat_in, stat_out = equal_count_shadows(stat_in, stat_out, online=online,
                                                rng=np.random.default_rng([EQUAL_COUNT_SEED, int(target)]))
    if fix_variance is None:
        fix_variance = len(others) < FIXED_VARIANCE_BELOW
    score = compute_score_lira_stacked(shadows.stats[position[0]], stat_in, stat_out,
                                       option="both" if online else "out", fix_variance=fix_variance)
    return -np.asarray(score)


def tpr_at_fpr(*, member_scores: np.ndarray, non_member_scores: np.ndarray, fpr: float) -> Optional[float]:
    """The largest TPR at a threshold whose FPR is ≤ ``fpr``; None below resolution (``fpr`` < 1/non-members)."""
    non_member_scores = np.sort(np.asarray(non_member_scores))[::-1]
    n = len(non_member_scores)
    if n == 0 or fpr < 1.0 / n:
        return None
    allowed = int(np.floor(fpr * n + 1e-9))  # false positives allowed
    # threshold strictly above the (allowed+1)-th highest non-member score
    threshold = non_member_scores[allowed] if allowed < n else -np.inf
    return float(np.mean(np.asarray(member_scores) > threshold))


def _check_pooled(scores, members, confidence, resamples) -> Tuple[np.ndarray, np.ndarray]:
    scores, members = np.asarray(scores, np.float64), np.asarray(members, bool)
    if scores.shape != members.shape or scores.ndim != 2:
        raise InputError(f"scores {scores.shape} and members {members.shape} must be the same (targets, examples)")
    if not 0 < confidence < 1 or resamples < 1:
        raise InputError(f"need 0 < confidence < 1 and resamples >= 1, got {confidence}, {resamples}")
    return scores, members


def _resolved(members: np.ndarray, fpr: float) -> bool:
    """Whether every resample of the targets (rows) pools at least 1/fpr non-member scores."""
    return len(members) * int((~members).sum(axis=1).min()) * fpr >= 1 - 1e-9


def _pooled_tpr(scores, members, drawn, fpr) -> float:
    return tpr_at_fpr(member_scores=scores[drawn][members[drawn]], non_member_scores=scores[drawn][~members[drawn]],
                      fpr=fpr)


def pooled_tpr_intervals(*, scores: np.ndarray, members: np.ndarray, fprs: Sequence[float], resamples: int = 1000,
                         confidence: float = 0.95, seed: int = 0) -> Dict[float, Optional[Tuple[float, float]]]:
    """Percentile bootstrap interval over targets of the pooled ROC's TPR (in [0, 1]) at each of ``fprs``.

    ``scores`` and ``members`` are (targets, examples), as ``run_lira`` pools them: each resample
    draws as many targets with replacement and pools their scores. Approximate: the targets are
    resampled as if independent, but they share examples and serve as each other's shadows, so the
    interval is likely too narrow, and a percentile bootstrap of an extreme order statistic (the
    threshold at 0.1 % FPR) with ~10 targets covers less than its nominal level. Overlapping
    intervals of two settings do not show they are equal: compare settings with
    ``pooled_tpr_difference``. None for a level that some resample could not resolve (fewer than
    1/fpr non-member scores: targets × the fewest non-members of a target) and for one target.
    """
    scores, members = _check_pooled(scores, members, confidence, resamples)
    return _bootstrap_over_targets(lambda drawn, fpr: _pooled_tpr(scores, members, drawn, fpr), members=members,
                                   fprs=fprs, resamples=resamples, confidence=confidence, seed=seed)


def pooled_tpr_difference(*, scores: np.ndarray, baseline_scores: np.ndarray, members: np.ndarray,
                          fprs: Sequence[float], resamples: int = 1000, confidence: float = 0.95,
                          seed: int = 0) -> Dict[float, Optional[Tuple[float, float, float]]]:
    """Pooled TPR of ``scores`` minus that of ``baseline_scores`` at each FPR, with a paired bootstrap interval.

    Both are (targets, examples) scores of two settings trained on the same keep matrix
    (``members``: target i has the same members in both), so each resample draws the same targets
    for both and the interval is of the difference itself (in TPR units, [−1, 1]); an interval
    excluding 0 tells the settings apart at that FPR (with the caveats of ``pooled_tpr_intervals``).
    Returns ``{fpr: (difference, low, high)}``, None where a level is not resolved.
    """
    scores, members = _check_pooled(scores, members, confidence, resamples)
    baseline_scores, _ = _check_pooled(baseline_scores, members, confidence, resamples)

    def change(drawn, fpr):
        return _pooled_tpr(scores, members, drawn, fpr) - _pooled_tpr(baseline_scores, members, drawn, fpr)

    intervals = _bootstrap_over_targets(change, members=members, fprs=fprs, resamples=resamples,
                                        confidence=confidence, seed=seed)
    everything = np.arange(len(scores))
    return {fpr: None if interval is None else (float(change(everything, fpr)), *interval)
            for fpr, interval in intervals.items()}


def _bootstrap_over_targets(statistic, *, members, fprs, resamples, confidence, seed):
    """{fpr: percentile interval of ``statistic(drawn targets, fpr)`` over resamples of the targets, or None where a
    resample may not resolve the level, and for fewer than 2 targets}."""
    targets = len(members)
    levels = [fpr for fpr in fprs if targets >= 2 and _resolved(members, fpr)]
    rng = np.random.default_rng(seed)
    values = {fpr: [] for fpr in levels}
    for _ in range(resamples if levels else 0):
        drawn = rng.integers(0, targets, targets)
        for fpr in levels:
            values[fpr].append(statistic(drawn, fpr))
    tail = 100 * (1 - confidence) / 2
    return {fpr: tuple(float(b) for b in np.percentile(values[fpr], [tail, 100 - tail])) if fpr in values else None
            for fpr in fprs}


def log_roc(*, member_scores: np.ndarray, non_member_scores: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """TPR on an FPR ``grid``, linearly interpolated between the ROC's points, for averaging curves over targets."""
    from sklearn.metrics import roc_curve

    labels = np.r_[np.ones(len(member_scores)), np.zeros(len(non_member_scores))]
    fpr, tpr, _ = roc_curve(labels, np.r_[member_scores, non_member_scores])
    return np.interp(grid, fpr, tpr)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LiraResult:
    """LiRA over several targets.

    Attributes:
      variant: ``online`` or ``offline``.
      per_target: one row per target model: ``target``, ``members``, ``non_members``, ``auc``,
        and ``tpr@<fpr>`` per level (NaN = below resolution).
      auc: mean AUC over targets (in [0, 1]); auc_std its standard deviation.
      tpr_at_fpr: level → mean TPR over targets, None when below resolution (per target: FPR < 1/non-members).
      pooled_tpr_at_fpr: level → TPR of the ROC over all (target, example) scores pooled, as Carlini et al.'s
        reference code plots it; resolution 1/(all non-member scores), so with many targets it reaches FPRs
        that one target cannot.
      roc: (fpr grid, mean TPR) on a log grid from 1/non-members to 1.
      scores: (targets, examples) scores, rows in the order of ``per_target``.
      pooled_tpr_interval: level → 95 % bootstrap interval over targets of the pooled TPR
        (``pooled_tpr_intervals``; None below resolution or with one target).
    """

    variant: str
    per_target: pd.DataFrame
    auc: float
    auc_std: float
    tpr_at_fpr: Mapping[float, Optional[float]]
    pooled_tpr_at_fpr: Mapping[float, Optional[float]]
    roc: Tuple[np.ndarray, np.ndarray]
    scores: np.ndarray
    pooled_tpr_interval: Mapping[float, Optional[Tuple[float, float]]] = dataclasses.field(default_factory=dict)

    def rows(self) -> List[dict]:
        """Flat records for results tables: AUC and each TPR level (None = below resolution)."""
        out = [{"metric": "auc", "value": self.auc}]
        out += [{"metric": f"tpr_at_{level:g}_fpr", "value": value} for level, value in self.tpr_at_fpr.items()]
        return out


def run_lira(shadows: ShadowModels, *, targets: Optional[Sequence[int]] = None, online: bool = True,
             fix_variance: Optional[bool] = None, equal_counts: bool = True,
             fpr_levels: Sequence[float] = FPR_LEVELS) -> LiraResult:
    """Each target model (default: every stored model) attacked with the other stored models as shadows
    (``online``, ``fix_variance``, ``equal_counts``: see ``lira_scores``)."""
    from sklearn.metrics import roc_auc_score

    targets = list(shadows.finished if targets is None else targets)
    if not targets:
        raise InputError("no stored models to attack")
    rows, all_scores, curves = [], [], []
    smallest = min(int((~shadows.keep[t]).sum()) for t in targets)
    grid = np.logspace(np.log10(1.0 / smallest), 0, 200)
    for target in targets:
        scores = lira_scores(shadows, target=target, online=online, fix_variance=fix_variance,
                             equal_counts=equal_counts)
        member = shadows.keep[target]
        row = {"target": int(target), "members": int(member.sum()), "non_members": int((~member).sum()),
               "auc": float(roc_auc_score(member, scores))}
        for level in fpr_levels:
            value = tpr_at_fpr(member_scores=scores[member], non_member_scores=scores[~member], fpr=level)
            row[f"tpr@{level:g}"] = np.nan if value is None else value
        rows.append(row)
        all_scores.append(scores)
        curves.append(log_roc(member_scores=scores[member], non_member_scores=scores[~member], grid=grid))
    table = pd.DataFrame(rows)
    tpr = {}
    for level in fpr_levels:
        column = table[f"tpr@{level:g}"]
        tpr[level] = None if column.isna().any() else float(column.mean())
    members = shadows.keep[np.asarray(targets)]
    stacked = np.stack(all_scores)
    pooled = {level: tpr_at_fpr(member_scores=stacked[members], non_member_scores=stacked[~members], fpr=level)
              for level in fpr_levels}
    intervals = pooled_tpr_intervals(scores=stacked, members=members, fprs=fpr_levels)
    return LiraResult(variant="online" if online else "offline", per_target=table, auc=float(table["auc"].mean()),
                      auc_std=float(table["auc"].std(ddof=0)), tpr_at_fpr=tpr, pooled_tpr_at_fpr=pooled,
                      roc=(grid, np.mean(curves, axis=0)), scores=stacked, pooled_tpr_interval=intervals)


# %% Memorization
def memorization(shadows: ShadowModels, *, exclude: Optional[int] = None) -> np.ndarray:
    """Feldman's mem_i = P[correct | IN] − P[correct | OUT] over the stored models, in [−1, 1]; NaN without both.

    ``exclude``: leave this model out (a target's own correctness must not decide the bin
    its examples are scored in).
    """
    rows = shadows.finished != exclude if exclude is not None else np.ones(len(shadows.finished), bool)
    keep = shadows.finished_keep[rows]
    correct = shadows.correct[rows].astype(np.float64)
    n_in, n_out = keep.sum(axis=0), (~keep).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_in = np.where(n_in > 0, (correct * keep).sum(axis=0) / n_in, np.nan)
        p_out = np.where(n_out > 0, (correct * ~keep).sum(axis=0) / n_out, np.nan)
    return p_in - p_out


def memorization_bins(mem: np.ndarray, *, bins: int = MEMORIZATION_BINS) -> Tuple[np.ndarray, List[str]]:
    """Bin index of every example (−1 for NaN) and the bin labels: bin 0 = mem ≤ 0, bins 1..``bins`` on (0, 1]."""
    mem = np.asarray(mem, dtype=np.float64)
    missing = np.isnan(mem)
    scaled = np.round(np.clip(np.nan_to_num(mem), 0, 1) * bins, 9)  # 0.15 × 20 must be bin 3, not 4
    index = np.where(mem <= 0, 0, np.ceil(scaled)).astype(np.int64)
    index[missing] = -1
    width = 1.0 / bins
    labels = ["≤ 0"] + [f"({i * width:.2f}, {(i + 1) * width:.2f}]" for i in range(bins)]
    return index, labels


def _bins_for(target: int, shadows: ShadowModels, bins_from: Optional[ShadowModels], bins: int) -> np.ndarray:
    """Each example's memorization bin for ``target``: from ``bins_from`` (another pool of the same examples and keep
    matrix, e.g. the non-private models), else from ``shadows`` without the target itself."""
    if bins_from is not None:
        if bins_from.keep.shape != shadows.keep.shape or not np.array_equal(bins_from.keep, shadows.keep):
            raise InputError("bins_from must be a pool of the same examples and keep matrix")
        return memorization_bins(memorization(bins_from), bins=bins)[0]
    return memorization_bins(memorization(shadows, exclude=target), bins=bins)[0]


def tpr_by_memorization(shadows: ShadowModels, result: LiraResult, *, fpr: float = 0.001,
                        bins: int = MEMORIZATION_BINS, bins_from: Optional[ShadowModels] = None) -> pd.DataFrame:
    """DeMem's Figure 1: per memorization bin, TPR at ``fpr`` (threshold set on all non-members of each target).

    For each target, examples are binned by the memorization estimated from the *other*
    models (or from the pool ``bins_from``: DeMem bins the DP models' examples by the
    memorization of non-private ones); hits and member counts are pooled over targets.
    Columns: ``bin``, ``label``, ``examples`` (pool examples in the bin, averaged over
    targets), ``members`` (member scores counted over targets), ``tpr`` (pooled; NaN below
    resolution or empty).
    """
    _, labels = memorization_bins(np.zeros(0), bins=bins)
    hits = np.zeros(bins + 1)
    counts = np.zeros(bins + 1)
    examples = np.zeros(bins + 1)
    resolved = True
    for target, scores in zip(result.per_target["target"], result.scores):
        index = _bins_for(target, shadows, bins_from, bins)
        examples += np.bincount(index[index >= 0], minlength=bins + 1)
        member = shadows.keep[target]
        counts += np.bincount(index[member & (index >= 0)], minlength=bins + 1)
        non_member_scores = np.sort(scores[~member])[::-1]
        if fpr < 1.0 / len(non_member_scores):
            resolved = False
            continue
        threshold = non_member_scores[int(np.floor(fpr * len(non_member_scores) + 1e-9))]
        hit = member & (index >= 0) & (scores > threshold)
        hits += np.bincount(index[hit], minlength=bins + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.where(counts > 0, hits / counts, np.nan) if resolved else np.full(bins + 1, np.nan)
    return pd.DataFrame({"bin": np.arange(bins + 1), "label": labels,
                         "examples": examples / max(1, len(result.per_target)),
                         "members": counts.astype(int), "tpr": tpr})


def accuracy_by_memorization(shadows: ShadowModels, *, targets: Sequence[int], bins: int = MEMORIZATION_BINS,
                             bins_from: Optional[ShadowModels] = None) -> pd.DataFrame:
    """DeMem's Figure 1, right: per memorization bin, the targets' accuracy on the examples they did *not* train on.

    Columns: ``bin``, ``label``, ``examples`` (non-member predictions counted over targets),
    ``accuracy`` (pooled over targets; NaN for an empty bin).
    """
    _, labels = memorization_bins(np.zeros(0), bins=bins)
    hits, counts = np.zeros(bins + 1), np.zeros(bins + 1)
    rows = {int(k): i for i, k in enumerate(shadows.finished)}
    for target in targets:
        if int(target) not in rows:
            raise InputError(f"model {target} is not stored")
        index = _bins_for(int(target), shadows, bins_from, bins)
        out = ~shadows.keep[int(target)] & (index >= 0)
        counts += np.bincount(index[out], minlength=bins + 1)
        hits += np.bincount(index[out & shadows.correct[rows[int(target)]]], minlength=bins + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(counts > 0, hits / counts, np.nan)
    return pd.DataFrame({"bin": np.arange(bins + 1), "label": labels, "examples": counts.astype(int),
                         "accuracy": accuracy})


def summary_rows(result: LiraResult) -> Dict[str, object]:
    """AUC ± std and TPRs as display strings ("below resolution" where unmeasurable)."""
    out: Dict[str, object] = {"auc": f"{result.auc:.3f} ± {result.auc_std:.3f}"}
    for level, value in result.tpr_at_fpr.items():
        out[f"TPR @ {level * 100:g}% FPR"] = "below resolution" if value is None else f"{value:.4f}"
        pooled = result.pooled_tpr_at_fpr.get(level)
        out[f"TPR @ {level * 100:g}% FPR (pooled)"] = "below resolution" if pooled is None else f"{pooled:.4f}"
    return out
