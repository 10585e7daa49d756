"""tfdpfair: differentially private deep learning, DP synthetic data, fairness and privacy attacks on TF 2.15."""
from setuptools import find_packages, setup

# Generate notebooks from the scripts (jupytext) and run them in a kernel (nbclient, ipykernel).
NOTEBOOKS = ["jupytext", "nbformat", "nbclient", "ipykernel"]

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
    python_requires=">=3.9,<3.12",
    # Ranges from DESIGN.md; the exact versions live in constraints.txt.
    install_requires=[
        "tensorflow~=2.15.1",
        "tensorflow-privacy==0.9.0",
        "tensorflow-empirical-privacy==0.1.0",
        "tensorflow-datasets==4.9.4",
        "tensorflow-metadata<1.16",
        "protobuf<5",
        "dp-accounting==0.4.3",
        "scikit-learn>=1.0,<1.7",
        "numpy<2",
        "pandas~=1.5",
        "scipy",
        "matplotlib",
        "fairlearn",
        "mlxtend",
        "tqdm",
    ],
    extras_require={
        "notebooks": NOTEBOOKS,
        "test": ["pytest", "hypothesis", *NOTEBOOKS],  # the tests execute the notebooks on the smoke preset
    },
    entry_points={"console_scripts": ["tfdpfair=tfdpfair.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.9",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
