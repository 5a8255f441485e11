"""Repairs of tf-slim 1.1.0 functions that newer numpy breaks. ``compat.SHIMS`` names each
one, with the versions that need it; ``compat`` installs them when tf-slim loads.

Each name here is a factory: it takes tf-slim's function and returns the repaired one,
which keeps tf-slim's signature and results and hands tf-slim whatever it still does right.
"""

import functools

import tensorflow.compat.v1 as tf


def _grouped_by_checkpoint_name(var_list, full_name):
  """{checkpoint name: [variables]}, from a list of variables or a name -> variable(s) map
  (tf-slim's two forms; a partitioned variable's parts share their checkpoint name)."""
  if isinstance(var_list, (list, tuple)):
    grouped = {}
    for variable in var_list:
      grouped.setdefault(full_name(variable), []).append(variable)
    return grouped
  return {name: list(value) if isinstance(value, (list, tuple)) else [value]
          for name, value in var_list.items()}


def _part(value, slice_info):
  """The part of a checkpoint ``value`` that a variable slice restores."""
  return value[tuple(slice(start, start + size)
                     for start, size in zip(slice_info.var_offset, slice_info.var_shape))]


def assign_from_checkpoint(original):
  """tf-slim's ``assign_from_checkpoint(model_path, var_list, ignore_missing_vars=False)``,
  with the parts of partitioned variables read as numpy >= 1.23 allows (tf-slim indexes
  with a list of slices); whole variables are left to tf-slim."""
  from tf_slim.ops import variables as slim_variables  # pylint: disable=g-import-not-at-top

  @functools.wraps(original)
  def repaired(model_path, var_list, ignore_missing_vars=False):
    grouped = _grouped_by_checkpoint_name(var_list, slim_variables.get_variable_full_name)
    parts, whole = {}, {}  # Split by the variable itself: `in` would compare with ==.
    for name, variables in grouped.items():
      for variable in variables:
        sliced = variable._save_slice_info  # pylint: disable=protected-access
        (parts if sliced else whole).setdefault(name, []).append(variable)
    if not parts:
      return original(model_path, var_list, ignore_missing_vars)
    assign_op, feed_dict = original(model_path, whole, ignore_missing_vars)
    reader = tf.train.NewCheckpointReader(model_path)
    assign_ops = [assign_op]
    for name, variables in parts.items():
      if not reader.has_tensor(name):
        if ignore_missing_vars:
          tf.logging.warning('Checkpoint is missing variable [%s]', name)
          continue
        raise ValueError('Checkpoint is missing variable [%s]' % name)
      value = reader.get_tensor(name)
      for variable in variables:
        placeholder = tf.placeholder(variable.dtype.base_dtype, variable.get_shape(),
                                     name='placeholder/' + variable.op.name)
        assign_ops.append(variable.assign(placeholder))
        slice_info = variable._save_slice_info  # pylint: disable=protected-access
        feed_dict[placeholder] = _part(value, slice_info).reshape(slice_info.var_shape)
    return tf.group(*assign_ops), feed_dict

  return repaired
