"""Mixed precision policies, as ``keras.mixed_precision``.

Example:
    >>> import cnnkit
    >>> cnnkit.mixed_precision.set_global_policy("mixed_bfloat16")
    >>> cnnkit.mixed_precision.global_policy().name
    'mixed_bfloat16'
    >>> cnnkit.mixed_precision.set_global_policy("float32")
"""

from cnnkit.training.precision import Policy, global_policy, set_global_policy

DTypePolicy = Policy

__all__ = ["DTypePolicy", "Policy", "global_policy", "set_global_policy"]
