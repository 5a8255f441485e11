"""Reader for SIGNS-format HDF5 files (the deep-learning course's hand-sign data, or
any dataset written the same way, with any number of classes), with every defect
reported as one UsageError line naming the file and key."""

import dataclasses
import os

import h5py
import numpy as np

from legacy_resnet.core import limits
from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import UsageError
from legacy_resnet.core.errors import first_cause

TRAIN_FILE = 'train_signs.h5'
TEST_FILE = 'test_signs.h5'
CLASSES_KEY = 'list_classes'


@dataclasses.dataclass(frozen=True)
class Split:
  """One labelled set of images."""
  images: np.ndarray  # float32 [N, H, W, 3] in [0, 1]
  labels: np.ndarray  # int64 [N] in 0..C-1
  class_names: list  # C strings (the values of ``list_classes``, in order)
  source: str  # where the images came from


def class_names(class_values):
  """The class names of ``list_classes`` values [C]: the values as strings."""
  return [str(value) for value in class_values.tolist()]


def make_split(pixels, class_values, label_values, source):
  """A Split from pixels [N, H, W, 3] (integers in 0..255, or floats in [0, 1] or
  [0, 255]) and label values [N] that are entries of ``class_values`` [C]."""
  images = pixels.astype(np.float32)
  if np.issubdtype(pixels.dtype, np.integer) or images.max(initial=0.0) > 1.0:
    images /= 255.0
  index_of = {value: index for index, value in enumerate(class_values.tolist())}
  labels = np.array([index_of[value] for value in label_values.tolist()], dtype=np.int64)
  return Split(images, labels, class_names(class_values), source)


def _read(path, handle, key):
  """The whole dataset ``key`` of an open file, as numpy."""
  if key not in handle:
    raise UsageError('%s: key %s missing (keys present: %s)'
                     % (path, key, ', '.join(sorted(handle.keys())) or 'none'))
  try:
    node = handle[key]
    if not isinstance(node, h5py.Dataset):
      raise UsageError('%s: key %s is a group, not a dataset' % (path, key))
    limits.check_dataset(path, key, node)
    return np.asarray(node[()])
  except (KeyError, OSError, RuntimeError, TypeError, ValueError) as error:
    raise UsageError('%s: key %s unreadable (%s)' % (path, key, first_cause(error))) from None


def _check_pixels(path, key, pixels):
  """Raises unless ``pixels`` is a non-empty [N, H, W, 3] array of pixel values."""
  if pixels.ndim != 4 or pixels.shape[-1] != 3:
    raise UsageError('%s: key %s must have shape [N, H, W, 3], got %s'
                     % (path, key, list(pixels.shape)))
  is_integer = np.issubdtype(pixels.dtype, np.integer)
  if not (is_integer or np.issubdtype(pixels.dtype, np.floating)):
    raise UsageError('%s: key %s must hold numbers, got dtype %s' % (path, key, pixels.dtype))
  if pixels.size == 0:
    raise UsageError('%s: key %s holds no pixels (shape %s)' % (path, key, list(pixels.shape)))
  if not is_integer and not np.all(np.isfinite(pixels)):
    raise UsageError('%s: key %s contains NaN or infinite values' % (path, key))
  if pixels.min() < 0 or pixels.max() > 255:
    raise UsageError('%s: key %s has values outside 0..255 (min %s, max %s)'
                     % (path, key, pixels.min(), pixels.max()))


def _integer_vector(path, key, values):
  """Labels or class values [N] or [1, N] (the course stores both) as int64 [N]."""
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


def _check_labels(path, key, labels, classes):
  """Raises unless ``classes`` are distinct, and hold every label of ``key``."""
  if len(classes) == 0:
    raise UsageError('%s: key %s is empty' % (path, CLASSES_KEY))
  values, counts = np.unique(classes, return_counts=True)
  if np.any(counts > 1):
    raise UsageError('%s: key %s repeats the value %d' % (path, CLASSES_KEY, values[counts > 1][0]))
  unknown = labels[~np.isin(labels, classes)]
  if unknown.size:
    raise UsageError('%s: key %s has label %d, which is not in %s %s'
                     % (path, key, unknown[0], CLASSES_KEY, classes.tolist()))


def _read_arrays(path, handle, prefix):
  """(pixels [N, H, W, 3], labels int64 [N], classes int64 [C], y key) of a file; without
  ``prefix``, of whichever ``<prefix>_set_x`` it holds (train if both)."""
  if not prefix:
    prefix = next((name for name in ('train', 'test') if '%s_set_x' % name in handle), None)
    if not prefix:
      raise UsageError('%s: key train_set_x or test_set_x missing (keys present: %s)'
                       % (path, ', '.join(sorted(handle.keys())) or 'none'))
  x_key, y_key = '%s_set_x' % prefix, '%s_set_y' % prefix
  pixels = _read(path, handle, x_key)
  _check_pixels(path, x_key, pixels)
  labels = _integer_vector(path, y_key, _read(path, handle, y_key))
  if len(labels) != len(pixels):
    raise UsageError('%s: key %s has %d labels for the %d images in %s'
                     % (path, y_key, len(labels), len(pixels), x_key))
  classes = _integer_vector(path, CLASSES_KEY, _read(path, handle, CLASSES_KEY))
  return pixels, labels, classes, y_key


def load_split(path, prefix=None):
  """The Split of ``path``, an HDF5 file with ``<prefix>_set_x`` [N, H, W, 3] (uint8, or
  floats in [0, 1] or [0, 255]), ``<prefix>_set_y`` [N] or [1, N] and ``list_classes`` [C];
  ``prefix``: 'train', 'test' or None (whichever the file holds). A defect raises a
  UsageError naming the file and key."""
  if not os.path.isfile(path):
    raise UsageError('%s: file not found' % path)
  try:
    with h5py.File(path, 'r') as handle:
      pixels, labels, classes, y_key = _read_arrays(path, handle, prefix)
  # A damaged file's structure fails in h5py as any of these, even on `key in file`.
  except (OSError, RuntimeError, KeyError, ValueError, TypeError) as error:
    raise UsageError('%s: not a readable HDF5 file (%s)' % (path, first_cause(error))) from None
  _check_labels(path, y_key, labels, classes)
  return make_split(pixels, classes, labels, path)


def load_dataset_dir(folder):
  """(train Split, test Split) from ``folder``'s train_signs.h5 and test_signs.h5, which
  must agree on list_classes and image size."""
  if not os.path.isdir(folder):
    raise SettingError('{dataset_dir} %s: folder not found', folder)
  train = load_split(os.path.join(folder, TRAIN_FILE), 'train')
  test = load_split(os.path.join(folder, TEST_FILE), 'test')
  check_same_kind(train, test)
  return train, test


def check_same_kind(train, test):
  """Raises a UsageError naming the test file unless ``test`` has ``train``'s classes
  and image size."""
  if train.class_names != test.class_names:
    raise UsageError('%s: key %s %s differs from %s in %s' % (
        test.source, CLASSES_KEY, test.class_names, train.class_names, train.source))
  if train.images.shape[1:] != test.images.shape[1:]:
    raise UsageError('%s: key test_set_x holds %s images, but train_set_x in %s holds %s' % (
        test.source, 'x'.join(map(str, test.images.shape[1:3])), train.source,
        'x'.join(map(str, train.images.shape[1:3]))))
