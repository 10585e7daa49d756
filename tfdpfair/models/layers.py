"""Custom Keras layers of the model zoo, registered so ``.keras`` files load without ``custom_objects``."""
from __future__ import annotations

import tensorflow as tf
from tfdpfair.compat import keras



@keras.saving.register_keras_serializable(package="tfdpfair")
class WSConv2D(keras.layers.Conv2D):
    """``Conv2D`` with weight standardization (Qiao et al. 2019), as in De et al. (2022)'s DP WRNs.

    The kernel is standardized to zero mean and unit variance over its fan-in
    (kernel height, width, input channels), separately for each output channel,
    every time it is used. ``ws_epsilon`` (> 0) is added to the variance.
    """

    def __init__(self, *args, ws_epsilon: float = 1e-5, **kwargs):
        super().__init__(*args, **kwargs)
        self.ws_epsilon = float(ws_epsilon)

    def standardized_kernel(self, kernel: tf.Tensor) -> tf.Tensor:
        mean, variance = tf.nn.moments(kernel, axes=[0, 1, 2], keepdims=True)
        return (kernel - mean) * tf.math.rsqrt(variance + self.ws_epsilon)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, self.standardized_kernel(kernel))

    def get_config(self):
        return {**super().get_config(), "ws_epsilon": self.ws_epsilon}
