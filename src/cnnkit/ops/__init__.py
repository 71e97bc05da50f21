"""``cnnkit.ops``: Keras 3's op set on torch tensors (``keras.ops`` with ``import cnnkit as keras``).

The NumPy-style ops (``ops.mean``, ``ops.matmul``...), the neural-network ops (``ops.softmax``, ``ops.conv``, also
under ``ops.nn``) and image ops under ``ops.image``. Each accepts tensors, NumPy arrays and Python scalars and
returns a tensor (``ops.shape`` returns a tuple), with Keras' dtype rules.

Example:
    >>> from cnnkit import ops
    >>> ops.mean(ops.ones((2, 3)), axis=0).tolist()
    [1.0, 1.0, 1.0]
"""

# ruff: noqa: F401 -- this module is the public face: every import is a re-export

from cnnkit.ops import image, nn, numpy
from cnnkit.ops.core import (
    cast,
    cond,
    convert_to_numpy,
    convert_to_tensor,
    dtype,
    fori_loop,
    is_tensor,
    scatter,
    shape,
    slice,
    standardize_dtype,
    stop_gradient,
)
from cnnkit.ops.nn import (
    average_pool,
    batch_normalization,
    binary_crossentropy,
    categorical_crossentropy,
    conv,
    conv_transpose,
    depthwise_conv,
    elu,
    gelu,
    hard_sigmoid,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    max_pool,
    moments,
    multi_hot,
    normalize,
    one_hot,
    relu,
    relu6,
    selu,
    separable_conv,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    sparse_categorical_crossentropy,
    swish,
)
from cnnkit.ops.numpy import *  # noqa: F403 -- Keras exposes every NumPy-style op at ops.<name>
