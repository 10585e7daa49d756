"""Datasets as numpy arrays (with group attributes) or tf.data pipelines; see ``load``.

Loading imports no TensorFlow (TFDS is imported only when it is used); ``Augmentation``
is loaded on first use.
"""
from tfdpfair.data.dataset import Dataset
from tfdpfair.data.loading import DATASETS, SOURCES, DataUnavailableError, available_offline, load, names
from tfdpfair.data.pipeline import poisson_batches, shuffled_batches
from tfdpfair.data.skewed_domains import DomainSkewedSplit, skewed_domains, to_gray
from tfdpfair.data.subsets import GroupSplit, SubsetError, cell_counts, imbalanced_split
from tfdpfair.errors import DataFormatError


def __getattr__(name):  # augmentation imports TensorFlow: load it on first use
    if name == "Augmentation":
        from tfdpfair.data.augmentation import Augmentation

        return Augmentation
    raise AttributeError(f"module 'tfdpfair.data' has no attribute {name!r}")


__all__ = ["Augmentation", "DATASETS", "SOURCES", "DataFormatError", "DataUnavailableError", "Dataset",
           "DomainSkewedSplit", "GroupSplit", "SubsetError", "available_offline", "cell_counts", "imbalanced_split", "load",
           "names", "poisson_batches", "shuffled_batches", "skewed_domains", "to_gray"]
