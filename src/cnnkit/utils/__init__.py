"""Public utilities (`keras.utils` equivalents): re-exports only, one line per helper."""

from cnnkit.utils.random import set_random_seed as set_random_seed
