"""Datasets through TensorFlow Datasets: downloads when online, reads ``data_dir`` when not.

CelebA images are centre-cropped to 178×178 (from row 20) and resized to 64×64,
the same preprocessing as ``celeba.npz``, so both sources give the same shapes.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from tfdpfair.data.dataset import Dataset

# The official attribute order of list_attr_celeba.txt (index 20 = Male, 31 = Smiling).
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)


def online(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0) -> bool:
    """True when TFDS's download host answers within ``timeout`` seconds (one attempt, no retries)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_prepared(tfds_name: str, data_dir: Optional[str]) -> bool:
    """True when TFDS has ``tfds_name`` on disk already (no network needed)."""
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(tfds_name, data_dir=data_dir).is_prepared()
    except Exception:  # unknown builder, unreadable dir: not prepared
        return False


def load_tfds(name: str, tfds_name: str, split: str, *, data_dir: Optional[str], download: bool) -> Dataset:
    """Read one split into memory (``download`` lets TFDS fetch and prepare it first)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    ds, info = tfds.load(tfds_name, split=split, data_dir=data_dir, download=download, with_info=True,
                         shuffle_files=False)
    if name == "celeb_a":
        def to_arrays(ex):
            img = tf.image.resize(ex["image"][20:198, :, :], (64, 64), method="lanczos3", antialias=True)
            img = tf.cast(tf.clip_by_value(tf.round(img), 0, 255), tf.uint8)
            attrs = tf.stack([tf.cast(ex["attributes"][a], tf.int8) for a in CELEBA_ATTRIBUTES])
            return img, attrs
    else:
        def to_arrays(ex):
            return ex["image"], ex["label"]
    xs, ys = [], []
    for x, y in tfds.as_numpy(ds.map(to_arrays, num_parallel_calls=tf.data.AUTOTUNE).batch(1024)):
        xs.append(x)
        ys.append(y)
    x = np.concatenate(xs).astype(np.uint8)
    y = np.concatenate(ys)
    source = f"tfds:{tfds_name}"
    if name == "celeb_a":
        return Dataset(name, split, x, None, source, attrs=y.astype(np.int8), attr_names=CELEBA_ATTRIBUTES)
    class_names = tuple(info.features["label"].names) if "label" in info.features else ()
    return Dataset(name, split, x, y.astype(np.int64), source, class_names=class_names)
