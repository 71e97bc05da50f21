"""Utilities (Keras' ``keras.utils``): re-exports only."""

from cnnkit.data.folder import image_dataset_from_directory
from cnnkit.utils.dataset_utils import pack_x_y_sample_weight, split_dataset, unpack_x_y_sample_weight
from cnnkit.utils.file_utils import get_file
from cnnkit.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from cnnkit.utils.numerical_utils import normalize, to_categorical
from cnnkit.utils.py_dataset import PyDataset, Sequence
from cnnkit.utils.random import set_random_seed

__all__ = [
    "PyDataset",
    "Sequence",
    "array_to_img",
    "get_file",
    "image_dataset_from_directory",
    "img_to_array",
    "load_img",
    "normalize",
    "pack_x_y_sample_weight",
    "save_img",
    "set_random_seed",
    "split_dataset",
    "to_categorical",
    "unpack_x_y_sample_weight",
]
