"""Datasets as numpy arrays (with group attributes) or tf.data pipelines; see ``load``."""
from tfdpfair.data.dataset import Dataset
from tfdpfair.data.loading import DATASETS, SOURCES, DataUnavailableError, available_offline, load, names
from tfdpfair.data.pipeline import shuffled_batches

__all__ = ["DATASETS", "SOURCES", "DataUnavailableError", "Dataset", "available_offline", "load", "names",
           "shuffled_batches"]
