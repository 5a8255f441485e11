"""Reader for SIGNS-format HDF5 files (the deep-learning course's hand-sign data, or
any dataset written the same way), with every defect reported as one UsageError
line naming the file and key."""

import dataclasses
import os

import h5py
import numpy as np

from legacy_resnet.errors import UsageError

TRAIN_FILE = 'train_signs.h5'
TEST_FILE = 'test_signs.h5'
PREFIXES = ('train', 'test')


@dataclasses.dataclass(frozen=True)
class Split:
  """One labelled set of images.

  images: float32 [N, H, W, 3] in [0, 1]; labels: int64 [N] in 0..C-1;
  class_names: C strings (the values of ``list_classes``); source: where it came from.
  """
  images: np.ndarray
  labels: np.ndarray
  class_names: list
  source: str


def make_split(pixels, class_values, label_values, source):
  """A Split from uint8 (or [0, 1] / [0, 255] float) pixels and raw label values
  (entries of ``class_values``); the one place where scaling and label mapping happen."""
  if np.issubdtype(pixels.dtype, np.integer):
    images = pixels.astype(np.float32) / 255.0
  else:
    images = pixels.astype(np.float32)
    if images.size and images.max() > 1.0:
      images /= 255.0
  index_of = {value: index for index, value in enumerate(class_values.tolist())}
  labels = np.array([index_of[value] for value in label_values.tolist()], dtype=np.int64)
  return Split(images, labels, [str(value) for value in class_values.tolist()], source)


def _read(path, handle, key):
  if key not in handle:
    raise UsageError('%s: key %s missing (keys present: %s)'
                     % (path, key, ', '.join(sorted(handle.keys())) or 'none'))
  node = handle[key]
  if not isinstance(node, h5py.Dataset):
    raise UsageError('%s: key %s is a group, not a dataset' % (path, key))
  try:
    return node[()]
  except (OSError, TypeError, ValueError) as error:
    raise UsageError('%s: key %s unreadable: %s' % (path, key, error)) from None


def _check_pixels(path, key, pixels):
  if not isinstance(pixels, np.ndarray) or pixels.ndim != 4 or pixels.shape[-1] != 3:
    raise UsageError('%s: key %s must have shape [N, H, W, 3], got %s'
                     % (path, key, list(np.shape(pixels))))
  if not (np.issubdtype(pixels.dtype, np.integer) or np.issubdtype(pixels.dtype, np.floating)):
    raise UsageError('%s: key %s must hold numbers, got dtype %s' % (path, key, pixels.dtype))
  if pixels.shape[0] == 0:
    raise UsageError('%s: key %s is empty' % (path, key))
  if np.issubdtype(pixels.dtype, np.floating) and not np.all(np.isfinite(pixels)):
    raise UsageError('%s: key %s contains NaN or infinite values' % (path, key))
  if np.issubdtype(pixels.dtype, np.integer) and (pixels.min() < 0 or pixels.max() > 255):
    raise UsageError('%s: key %s has values outside 0..255' % (path, key))


def _integer_vector(path, key, values):
  """Labels or class values as an int64 vector ([N] or [1, N] accepted)."""
  values = np.asarray(values)
  if values.ndim == 2 and values.shape[0] == 1:
    values = values[0]
  if values.ndim != 1:
    raise UsageError('%s: key %s must have shape [N] or [1, N], got %s'
                     % (path, key, list(values.shape)))
  if np.issubdtype(values.dtype, np.floating):
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
      raise UsageError('%s: key %s must hold whole numbers' % (path, key))
  elif not np.issubdtype(values.dtype, np.integer):
    raise UsageError('%s: key %s must hold integers, got dtype %s' % (path, key, values.dtype))
  return values.astype(np.int64)


def _detect_prefix(path, handle):
  present = [prefix for prefix in PREFIXES if '%s_set_x' % prefix in handle]
  if not present:
    raise UsageError('%s: key train_set_x or test_set_x missing (keys present: %s)'
                     % (path, ', '.join(sorted(handle.keys())) or 'none'))
  return present[0]


def load_split(path, prefix=None):
  """Reads one SIGNS-format file.

  Args:
    path: an HDF5 file with ``<prefix>_set_x``, ``<prefix>_set_y`` and ``list_classes``.
    prefix: 'train' or 'test'; None takes whichever the file holds.

  Returns:
    Split.

  Raises:
    UsageError: naming the file and key of the first defect found.
  """
  if not os.path.isfile(path):
    raise UsageError('%s: file not found' % path)
  try:
    handle = h5py.File(path, 'r')
  except OSError:
    raise UsageError('%s: not an HDF5 file (or truncated)' % path) from None
  with handle:
    prefix = prefix or _detect_prefix(path, handle)
    x_key, y_key = '%s_set_x' % prefix, '%s_set_y' % prefix
    pixels = _read(path, handle, x_key)
    _check_pixels(path, x_key, pixels)
    labels = _integer_vector(path, y_key, _read(path, handle, y_key))
    classes = _integer_vector(path, 'list_classes', _read(path, handle, 'list_classes'))
  if len(labels) != len(pixels):
    raise UsageError('%s: %s has %d labels for %d images in %s'
                     % (path, y_key, len(labels), len(pixels), x_key))
  if len(classes) == 0:
    raise UsageError('%s: key list_classes is empty' % path)
  if len(np.unique(classes)) != len(classes):
    raise UsageError('%s: key list_classes has repeated values %s' % (path, classes.tolist()))
  unknown = np.setdiff1d(labels, classes)
  if unknown.size:
    raise UsageError('%s: key %s has label %d, which is not in list_classes %s'
                     % (path, y_key, unknown[0], classes.tolist()))
  return make_split(pixels, classes, labels, path)


def load_dataset_dir(folder):
  """(train Split, test Split) from ``folder``'s train_signs.h5 and test_signs.h5."""
  if not os.path.isdir(folder):
    raise UsageError('--dataset_dir %s: folder not found' % folder)
  train = load_split(os.path.join(folder, TRAIN_FILE), 'train')
  test = load_split(os.path.join(folder, TEST_FILE), 'test')
  if train.class_names != test.class_names:
    raise UsageError('%s: list_classes %s differs from %s in %s'
                     % (test.source, test.class_names, train.class_names, train.source))
  if train.images.shape[1:] != test.images.shape[1:]:
    raise UsageError('%s: images are %s, but %s in %s' % (
        test.source, list(test.images.shape[1:3]), list(train.images.shape[1:3]), train.source))
  return train, test
