"""Checks of what a train dir holds before it is trusted: its ``legacy_resnet.json`` key by
key, and a checkpoint's ``global_step``; a bad value is a UsageError naming file and key."""

import json
import math
import numbers
import os

import numpy as np

from legacy_resnet.core.errors import UsageError
from nets import nets_factory

# Beyond these train_graph.py wrote no such file, and evaluation could allocate without bound (num_test).
MAX_IMAGE_SIDE = 8192
MAX_CLASSES = 100000
MAX_SYNTHETIC_IMAGES = 1000000
MAX_METADATA_BYTES = 1 << 20


def _is_int(value, low, high):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool) and low <= value <= high


def _is_number(value):
  return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _model_name(value):
  if value not in nets_factory.networks_map:
    return 'is not a known model (%s, ...)' % ', '.join(sorted(nets_factory.networks_map)[:3])
  return None


def _class_names(value):
  if not (isinstance(value, list) and 0 < len(value) <= MAX_CLASSES and
          all(isinstance(name, str) for name in value)):
    return 'must be a list of 1 to %d strings' % MAX_CLASSES
  if len(set(value)) != len(value):
    return 'repeats a class name'
  return None


def _image_size(value):
  if not (isinstance(value, list) and len(value) == 2 and
          all(_is_int(side, 1, MAX_IMAGE_SIDE) for side in value)):
    return 'must be [height, width], each an integer from 1 to %d' % MAX_IMAGE_SIDE
  return None


def _moving_average_decay(value):
  if value is not None and not (_is_number(value) and 0 <= value < 1):
    return 'must be null or a number in [0, 1)'
  return None


def _dataset(value):
  # Only these two kinds have a held-out set of their own; others need --dataset_dir or --dataset_file.
  if not isinstance(value, dict) or not isinstance(value.get('kind'), str) or not value['kind']:
    return 'must be an object with a "kind" (a name)'
  if value['kind'] == 'signs' and not (isinstance(value.get('dataset_dir'), str) and value['dataset_dir']):
    return '"dataset_dir" must be a folder name'
  if value['kind'] == 'synthetic':
    for key, low, high in (('seed', 0, 2 ** 63 - 1), ('num_train', 1, MAX_SYNTHETIC_IMAGES),
                           ('num_test', 1, MAX_SYNTHETIC_IMAGES)):
      if not _is_int(value.get(key), low, high):
        return '"%s" must be an integer from %d to %d' % (key, low, high)
  return None


def _evaluation(value):
  if not isinstance(value, dict):
    return 'must be an object'
  if not (_is_number(value.get('accuracy')) and 0 <= value['accuracy'] <= 1):
    return '"accuracy" must be a number in [0, 1]'
  if not _is_number(value.get('loss')):
    return '"loss" must be a finite number'
  if not _is_int(value.get('global_step'), 0, 2 ** 63 - 1):
    return '"global_step" must be a non-negative integer'
  if not isinstance(value.get('checkpoint', ''), str):
    return '"checkpoint" must be a file name'
  return None


REQUIRED = (('model_name', _model_name), ('class_names', _class_names), ('image_size', _image_size),
            ('moving_average_decay', _moving_average_decay), ('dataset', _dataset))
OPTIONAL = (('best', _evaluation), ('last_eval', _evaluation))


def check_metadata(path, metadata):
  """``metadata`` (the parsed JSON of ``path``) once every key train_graph.py writes has a
  value of the right type and range (others are let be), else a UsageError naming the key."""
  if not isinstance(metadata, dict):
    raise UsageError('%s: must hold a JSON object, not %s' % (path, type(metadata).__name__))
  for key, check in REQUIRED + OPTIONAL:
    if key not in metadata:
      if (key, check) in REQUIRED:
        raise UsageError('%s: key %s missing' % (path, key))
    elif problem := check(metadata[key]):
      raise UsageError('%s: key %s %s (got %.80r)' % (path, key, problem, metadata[key]))
  return metadata


def load_metadata(path):
  """The checked metadata in JSON file ``path``; a UsageError when it is unreadable, oversized or invalid."""
  try:
    if os.path.getsize(path) > MAX_METADATA_BYTES:
      raise UsageError('%s: unreadable metadata: larger than %d bytes' % (path, MAX_METADATA_BYTES))
    with open(path, encoding='utf-8') as stream:
      metadata = json.load(stream)
  except (OSError, ValueError, RecursionError) as error:
    raise UsageError('%s: unreadable metadata: %s' % (path, error)) from None
  return check_metadata(path, metadata)


def checked_global_step(prefix, value):
  """The checkpoint's ``global_step`` tensor ``value`` as an int; a UsageError unless a scalar int >= 0."""
  value = np.asarray(value)
  if value.shape != () or value.dtype.kind not in 'iu' or value < 0:
    raise UsageError('%s: tensor global_step must be a non-negative integer scalar, got %s %s'
                     % (prefix, value.dtype, list(value.shape)))
  return int(value)
