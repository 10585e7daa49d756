"""Utility of synthetic images: train-on-synthetic/test-on-real AUROC, a real-vs-fake classifier, and FID.

* ``tstr_auroc`` (DP-CGAN, Table 1): fit scikit-learn's logistic regression or MLP on
  synthetic (image, label) pairs, report the macro one-vs-rest AUROC on real test images.
* ``real_vs_fake`` (Wincott §6): a one-hidden-layer (10 units) Keras network trained to tell
  real from generated images; its test accuracy (0.5 = indistinguishable) and its hidden
  activations, on which ``frechet_distance`` gives Wincott's small-network FID.
* ``judge_classifier`` / ``classifier_fid`` / ``confident_share``: the standard measures beside
  Wincott's — a well-trained classifier of real images (the *judge*, trained once and cached),
  the FID on its penultimate features, and the share of generated images it labels with
  confidence above a threshold (0.9).
* ``label_shares`` / ``label_kl``: the share of generated images the judge assigns to each
  class, and its KL divergence from the real class shares (mode dropping or class imbalance:
  clean digits of fewer kinds raise the confident share while the judge's FID gets worse).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
from scipy import linalg

CLASSIFIERS = ("logistic", "mlp")


def tstr_auroc(*, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
               classifier: str = "logistic", seed: int = 0, max_iter: int = 200) -> float:
    """Macro one-vs-rest AUROC (in [0, 1]) on (x_test, y_test) of ``classifier`` fit on (x_train, y_train).

    Images are flattened; pixel scale is the caller's (use the same for both sets).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.neural_network import MLPClassifier

    if classifier not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {classifier!r}; choose one of {', '.join(CLASSIFIERS)}")
    if len(np.unique(y_train)) < 2:
        raise ValueError("the training labels hold a single class; AUROC needs at least two")
    model = (LogisticRegression(max_iter=max_iter, random_state=seed) if classifier == "logistic"
             else MLPClassifier(max_iter=max_iter, random_state=seed))  # scikit-learn defaults: one hidden layer of 100
    with warnings.catch_warnings():  # max_iter is the caller's choice: no convergence chatter
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train.reshape(len(x_train), -1), y_train)
    scores = model.predict_proba(x_test.reshape(len(x_test), -1))
    classes = list(model.classes_)
    if len(classes) == 2:
        return float(roc_auc_score(y_test, scores[:, 1]))
    return float(roc_auc_score(y_test, scores, multi_class="ovr", average="macro", labels=classes))


def frechet_distance(*, mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½) between two Gaussians (Heusel et al. 2017); ≥ 0."""
    diff = np.atleast_1d(mean_a - mean_b)
    cov_a, cov_b = np.atleast_2d(cov_a), np.atleast_2d(cov_b)
    with warnings.catch_warnings():  # scipy warns on a near-singular product; handled below
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(cov_a.dot(cov_b))  # (scipy 1.18 removed disp=False; the default returns the root)
    if not np.isfinite(covmean).all():  # near-singular product: regularise, as the reference implementation does
        offset = np.eye(cov_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov_a + offset).dot(cov_b + offset))
    covmean = covmean.real
    return float(max(diff.dot(diff) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean), 0.0))


def fid_from_features(*, real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two (N, D) feature sets."""
    return frechet_distance(mean_a=real.mean(0), cov_a=np.cov(real, rowvar=False),
                            mean_b=fake.mean(0), cov_b=np.cov(fake, rowvar=False))


@dataclasses.dataclass
class RealVsFake:
    """Wincott's secondary network: test accuracy at telling real from fake, and the FID on its features."""

    accuracy: float
    fid: float


def real_vs_fake(*, real_train: np.ndarray, fake_train: np.ndarray, real_test: np.ndarray, fake_test: np.ndarray,
                 epochs: int = 10, hidden_units: int = 10, seed: int = 0) -> RealVsFake:
    """Train flatten → Dense(10, ReLU) → Dense(1) on real (1) vs fake (0); accuracy and FID on the test sets."""
    from tfdpfair.compat import keras

    keras.utils.set_random_seed(seed)
    shape = real_train.shape[1:]
    inputs = keras.Input(shape)
    features = keras.layers.Dense(hidden_units, activation="relu", name="features")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(features))
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
    x = np.concatenate([real_train, fake_train]).astype(np.float32)
    y = np.concatenate([np.ones(len(real_train)), np.zeros(len(fake_train))]).astype(np.float32)
    model.fit(x, y, epochs=epochs, batch_size=256, shuffle=True, verbose=0)
    x_test = np.concatenate([real_test, fake_test]).astype(np.float32)
    y_test = np.concatenate([np.ones(len(real_test)), np.zeros(len(fake_test))]).astype(np.float32)
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    extractor = keras.Model(inputs, features)
    fid = fid_from_features(real=extractor.predict(real_test, verbose=0, batch_size=1024),
                            fake=extractor.predict(fake_test, verbose=0, batch_size=1024))
    return RealVsFake(accuracy=accuracy, fid=fid)




# %% A judge classifier: FID on its features and the share of confident labels
@dataclasses.dataclass
class Judge:
    """A classifier of real images (logits out) and its accuracy in [0, 1] on the real test set."""

    model: object
    accuracy: float


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def judge_classifier(*, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     model: str = "wincott_cnn", epochs: int = 3, batch_size: int = 128, learning_rate: float = 0.1,
                     seed: int = 0, path: Optional[Path] = None) -> Judge:
    """Train (non-privately, on real images in [0, 1]) the zoo's ``model`` as the judge, or load it from ``path``.

    With ``path`` (a ``.keras`` file, e.g. in the results folder) the judge is trained once: a
    later call loads it, and refuses (``InputError``) when it was trained on other data or
    with other settings. Its accuracy on (x_test, y_test) is stored beside it (``.json``).
    """
    from tfdpfair import models
    from tfdpfair.compat import keras
    from tfdpfair.errors import InputError
    from tfdpfair.files import atomic_path, write_json
    from tfdpfair.privacy import DPConfig
    from tfdpfair.training import TrainConfig, evaluate_accuracy, train_classifier

    if path is not None and Path(path).suffix != ".keras":
        raise InputError(f"the judge's path must end in .keras, got {path}")
    setting = {"model": model, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
               "seed": seed, "data": _digest(x_train, y_train, x_test, y_test)}
    meta = Path(path).with_suffix(".json") if path is not None else None
    if path is not None and Path(path).exists() and meta.exists():
        stored = json.loads(meta.read_text())
        if stored.get("setting") != setting:
            raise InputError(f"{path} is a judge of another setting ({stored.get('setting')}, now {setting}); "
                             "delete it or use another folder")
        return Judge(model=keras.models.load_model(path, compile=False), accuracy=float(stored["accuracy"]))
    num_classes = int(max(np.max(y_train), np.max(y_test))) + 1
    keras.utils.set_random_seed(seed)
    network = models.get(model, input_shape=x_train.shape[1:], num_classes=num_classes)
    train_classifier(network, x_train, y_train, dp=DPConfig().disabled(), seed=seed, run_name="judge", verbose=0,
                     train=TrainConfig(batch_size=batch_size, epochs=epochs, learning_rate=learning_rate))
    accuracy = evaluate_accuracy(network, x_test, y_test)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(Path(path)) as tmp:
            network.save(tmp)
        write_json(meta, {"setting": setting, "accuracy": accuracy})
    return Judge(model=network, accuracy=accuracy)


def penultimate_features(model, x: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """(N, D) activations that feed ``model``'s output layer (float64)."""
    from tfdpfair.compat import keras

    extractor = keras.Model(model.inputs, model.layers[-1].input)
    features = extractor.predict(np.asarray(x, np.float32), batch_size=batch_size, verbose=0)
    return np.asarray(features, np.float64).reshape(len(x), -1)


def classifier_fid(*, judge, real: np.ndarray, fake: np.ndarray, batch_size: int = 1024) -> float:
    """FID between real and generated images on the judge's penultimate features (≥ 0; 0 = same Gaussians)."""
    return fid_from_features(real=penultimate_features(judge, real, batch_size=batch_size),
                             fake=penultimate_features(judge, fake, batch_size=batch_size))


def judge_probabilities(judge, images: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """The judge's (logits out) softmax probabilities of ``images``: (n, classes), float64, rows summing to 1."""
    if len(images) == 0:
        raise ValueError("no images to judge")
    logits = np.asarray(judge.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0), np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def confident_share(*, judge, images: np.ndarray, threshold: float = 0.9, batch_size: int = 1024) -> float:
    """Share in [0, 1] of ``images`` whose top softmax probability under the judge (logits out) exceeds ``threshold``."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    probabilities = judge_probabilities(judge, images, batch_size=batch_size)
    return float(np.mean(probabilities.max(axis=1) > threshold))


def label_shares(*, judge, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Share in [0, 1] of ``images`` the judge (logits out) labels as each class (its arg-max): (classes,), sums to 1."""
    probabilities = judge_probabilities(judge, images, batch_size=batch_size)
    counts = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1])
    return counts / counts.sum()


def label_kl(*, generated: np.ndarray, real: np.ndarray) -> float:
    """KL(generated || real) in nats (≥ 0; 0 iff equal) between two class distributions, e.g. ``label_shares`` of
    generated images and the real test labels' shares. Finite when a generator drops a class; every class must be
    present in ``real`` (scipy.stats.entropy, which normalises both)."""
    from scipy import stats

    generated, real = np.asarray(generated, np.float64), np.asarray(real, np.float64)
    if generated.shape != real.shape or generated.ndim != 1:
        raise ValueError(f"two class distributions of one length expected, got shapes {generated.shape} and "
                         f"{real.shape}")
    if (generated < 0).any() or (real <= 0).any():
        raise ValueError("class shares must be >= 0 (generated) and > 0 (real: every class present)")
    return float(stats.entropy(generated, real))
