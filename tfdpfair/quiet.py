"""Import TensorFlow without the start-up chatter that would bury a one-line error.

TensorFlow prints, at import, C++ log lines about CUDA plugins registered twice
("Unable to register cuDNN factory"), missing GPU drivers and CPU instruction sets,
and some Google packages warn that Python 3.11 will lose support; dp-accounting
>= 0.5 logs every fractional RDP order it skips. None of it is actionable for our users; every other line TensorFlow writes while importing is
passed through unchanged.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings

NOISE = re.compile(
    r"Unable to register (cuDNN|cuFFT|cuBLAS) factory|TF-TRT Warning|Could not find cuda drivers"
    r"|could not open file to read NUMA node|This TensorFlow binary is optimized|rebuild TensorFlow with"
    r"|oneDNN custom operations are on|Could not find TensorRT|computation placer already registered"
    r"|All log messages before absl::InitializeLog|cuda_executor|Skipping registering GPU devices"
    r"|failed call to cuInit")


def silence_warnings() -> None:
    """Python warnings that say nothing to a tfdpfair user (deprecations inside dependencies)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=r".*You are using a Python version .* google", category=FutureWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(tensorflow|keras|tensorflow_datasets)")
    silence_skipped_rdp_orders()


def silence_skipped_rdp_orders() -> None:
    """Drop dp-accounting's per-call log line for each fractional RDP order it skips (see the filter)."""
    import logging

    absl = logging.getLogger("absl")
    if not any(isinstance(f, _FractionalOrderFilter) for f in absl.filters):
        absl.addFilter(_FractionalOrderFilter())


class _FractionalOrderFilter:
    """dp-accounting >= 0.5 logs, for every accountant call, each fractional RDP order whose series did not
    converge ("Excluding this order"); ε is then the minimum over the other orders, still an upper bound."""

    def filter(self, record) -> bool:
        return "_compute_log_a_frac failed to converge" not in record.getMessage()


def import_tensorflow():
    """``import tensorflow`` with its known start-up noise on stderr filtered out; returns the module."""
    silence_warnings()
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (some notebooks): nothing to filter
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        return tf
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), fd)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # TF >= 2.16 probes CUDA here, not at import: filter that too
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines()
                    if line.strip() and not NOISE.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
    tf.get_logger().setLevel("ERROR")
    return tf
