"""Repairs of tf-slim 1.1.0 functions that newer numpy breaks, installed by ``compat.SHIMS``:
each takes tf-slim's function and returns one with its signature and results."""

import functools

import tensorflow.compat.v1 as tf


def assign_from_checkpoint(original):
  """tf-slim's ``assign_from_checkpoint(model_path, var_list, ignore_missing_vars=False)``,
  with the parts of partitioned variables read as numpy >= 1.23 allows (tf-slim indexes
  with a list of slices); whole variables are left to tf-slim."""
  from tf_slim.ops import variables as slim_variables  # pylint: disable=g-import-not-at-top

  @functools.wraps(original)
  def repaired(model_path, var_list, ignore_missing_vars=False):
    if isinstance(var_list, (list, tuple)):
      named = [(slim_variables.get_variable_full_name(variable), variable) for variable in var_list]
    else:  # name -> variable(s): a partitioned variable's parts share their checkpoint name.
      named = [(name, variable) for name, value in var_list.items()
               for variable in (value if isinstance(value, (list, tuple)) else [value])]
    parts, whole = {}, {}  # Split by the variable itself: `in` would compare with ==.
    for name, variable in named:
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
        part = value[tuple(slice(start, start + size)
                           for start, size in zip(slice_info.var_offset, slice_info.var_shape))]
        feed_dict[placeholder] = part.reshape(slice_info.var_shape)
    return tf.group(*assign_ops), feed_dict

  return repaired
