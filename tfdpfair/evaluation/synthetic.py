"""Utility of synthetic images: train-on-synthetic/test-on-real AUROC, a real-vs-fake classifier, and FID.

* ``tstr_auroc`` (DP-CGAN, Table 1): fit scikit-learn's logistic regression or MLP on
  synthetic (image, label) pairs, report the macro one-vs-rest AUROC on real test images.
* ``real_vs_fake`` (Wincott §6): a one-hidden-layer (10 units) Keras network trained to tell
  real from generated images; its test accuracy (0.5 = indistinguishable) and its hidden
  activations, on which ``frechet_distance`` gives Wincott's small-network FID.
"""
from __future__ import annotations

import dataclasses
import warnings

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


