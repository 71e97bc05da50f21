"""Utilities (Keras' ``keras.utils``): re-exports only."""

from cnnkit.data.folder import image_dataset_from_directory
from cnnkit.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from cnnkit.utils.random import set_random_seed

__all__ = [
    "array_to_img",
    "image_dataset_from_directory",
    "img_to_array",
    "load_img",
    "save_img",
    "set_random_seed",
]
