"""Image data: safe decoding, image folders, caching, built-in datasets."""
