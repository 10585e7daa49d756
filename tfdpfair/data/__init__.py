"""Datasets as numpy arrays (with group attributes) or tf.data pipelines; see ``load``."""
from tfdpfair.data.dataset import Dataset
from tfdpfair.data.loading import DATASETS, SOURCES, DataUnavailableError, available_offline, load, names
from tfdpfair.data.augmentation import Augmentation
from tfdpfair.data.pipeline import poisson_batches, shuffled_batches
from tfdpfair.data.subsets import GroupSplit, SubsetError, cell_counts, imbalanced_split

__all__ = ["Augmentation", "DATASETS", "SOURCES", "DataUnavailableError", "Dataset", "GroupSplit", "SubsetError",
           "available_offline", "cell_counts", "imbalanced_split", "load", "names", "poisson_batches",
           "shuffled_batches"]
