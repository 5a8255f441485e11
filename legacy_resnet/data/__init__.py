"""SIGNS-format data: reading and checking the files, the embedded synthetic set,
image files, preprocessing and batching."""
