"""tfdpfair: differentially private deep learning, DP synthetic data, fairness and privacy attacks, on TF 2.15 (Keras 2) and TF >= 2.20 (Keras 3)."""
from setuptools import find_packages, setup

# Generate notebooks from the scripts (jupytext) and run them in a kernel (nbclient, ipykernel).
NOTEBOOKS = ["jupytext", "nbformat", "nbclient", "ipykernel"]

# Python 3.11: TensorFlow 2.15 with Keras 2 and TF Privacy's own dependency ranges.
PINNED = [
    "tensorflow~=2.15.1",
    "tensorflow-privacy==0.9.0",
    "tensorflow-empirical-privacy==0.1.0",
    "tensorflow-datasets==4.9.4",
    "tensorflow-metadata<1.16",
    "protobuf<5",
    "dp-accounting==0.4.3",
    "numpy<2",
    "pandas~=1.5",
]
# Python >= 3.12: TensorFlow >= 2.20 with Keras 3 (what Colab and new machines have).
CURRENT = [
    "tensorflow>=2.20",
    "keras>=3.10",
    "tensorflow-datasets>=4.9.9",
    "dp-accounting>=0.6",
    "numpy",
    "pandas",
    # what TF Privacy's modules we import need at run time (it is installed without its declared dependencies)
    "immutabledict",
    "statsmodels",
    "dm-tree",
]
COMMON = [
    "scikit-learn>=1.0,<1.7",  # 1.7 removed sklearn.utils.parallel_backend (shimmed), 1.8 a private name the MIA module imports
    "scipy",
    "matplotlib",
    "fairlearn",
    "mlxtend",
    "tqdm",
]

setup(
    name="tfdpfair",
    version="0.1.0",
    description=(
        "Differentially private training, DP generative models, fairness metrics and "
        "privacy attacks for TensorFlow/Keras, with one-command reproductions of five papers."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tfdpfair", "tfdpfair.*"]),
    python_requires=">=3.11,<3.14",
    # Two stacks (README, "Stacks"), chosen by the Python version; the exact versions live in
    # constraints/pinned.txt and constraints/current.txt. On Python >= 3.12, TF Privacy 0.9.0 and
    # tensorflow-empirical-privacy 0.1.0 (which declare Requires-Python < 3.12) are installed by
    # `make` or by `pip install --no-deps --ignore-requires-python -c constraints/current.txt
    # tensorflow-privacy==0.9.0 tensorflow-empirical-privacy==0.1.0`; their run-time needs are listed here.
    install_requires=[
        f"{name}; python_version < '3.12'" for name in PINNED
    ] + [
        f"{name}; python_version >= '3.12'" for name in CURRENT
    ] + COMMON,
    extras_require={
        "notebooks": NOTEBOOKS,
        # Keras 2 on the current stack, for TF Privacy's own Keras optimizers and DPModel (with TF_USE_LEGACY_KERAS=1).
        "tf-keras": ["tf-keras; python_version >= '3.12'"],
        # the tests execute the notebooks on the smoke preset; `make test` runs them on 2 workers (pytest-xdist)
        "test": ["pytest", "pytest-xdist", "hypothesis", *NOTEBOOKS],
    },
    entry_points={"console_scripts": ["tfdpfair=tfdpfair.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
