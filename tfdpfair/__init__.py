"""tfdpfair: differentially private deep learning, DP synthetic data, fairness and privacy attacks.

Importing the top-level package is cheap (no TensorFlow); the subpackages
``data``, ``models``, ``privacy``, ``training``, ``evaluation`` and ``reporting``
import what they need.
"""

__version__ = "0.1.0"
