"""Checkpoints: finding them, their run's metadata, checking that one fits a graph, and
warm-starting a graph from another model's checkpoint."""

import collections
import glob
import logging
import os
import re
import sys
import time

import tensorflow as tf
import tf_slim as slim

from legacy_resnet.checkpointing import metadata_checks
from legacy_resnet.core import atomic_files
from legacy_resnet.core import limits
from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import UsageError
from legacy_resnet.core.errors import first_cause

METADATA_FILE = 'legacy_resnet.json'
STATE_FILE = 'checkpoint'  # The Saver's list of checkpoints in a folder.
BEST_SUBDIR = 'best'
MISMATCHES_SHOWN = 5
# How often a reader lists a train dir again when its trainer prunes what it was reading.
READ_ATTEMPTS = 10


def _warn(text):
  print('warning: %s' % text, file=sys.stderr, flush=True)


def _quiet(unused_text):
  pass


def unreadable_because(prefix):
  """Why checkpoint ``prefix`` cannot be restored whole (every tensor is read back), or None."""
  try:
    reader = tf.train.load_checkpoint(prefix)
    if oversized := limits.checkpoint_oversized_because(
        prefix, reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()):
      return oversized
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  # The reader's bindings raise OpError for a bad index, IndexError for short data.
  except (tf.errors.OpError, IndexError, ValueError, RuntimeError, OSError) as error:
    return first_cause(error)
  return None


def _step_suffix(prefix):
  found = re.search(r'-(\d+)$', prefix)
  return int(found.group(1)) if found else -1


def listed_checkpoints(folder, warn=_warn):
  """The checkpoint prefixes of ``folder``, oldest first: those its state file lists or,
  when that file is missing or damaged, those whose index files are there (said through
  ``warn``), so a lost state file never restarts a run from step 0."""
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel(logging.ERROR)  # TensorFlow would log a state file it cannot parse.
  try:
    state = tf.train.get_checkpoint_state(folder)
  except (tf.errors.OpError, ValueError):  # ValueError: bytes that are not text.
    state = None
  finally:
    logger.setLevel(level)
  if state is not None:
    listed = list(state.all_model_checkpoint_paths)
    if state.model_checkpoint_path and state.model_checkpoint_path not in listed:
      listed.append(state.model_checkpoint_path)
    return listed
  # Lowest global step, then oldest file, first.
  found = sorted((path[:-len('.index')]
                  for path in glob.glob(os.path.join(glob.escape(folder), '*.index'))),
                 key=lambda prefix: (_step_suffix(prefix), os.path.getmtime(prefix + '.index')))
  if found:
    state_file = os.path.join(folder, STATE_FILE)
    warn('%s is %s; using the checkpoints found by their files (%s)'
         % (state_file, 'damaged' if os.path.exists(state_file) else 'missing',
            ', '.join(os.path.basename(prefix) for prefix in found)))
  return found


def recover_saver_list(saver, folder, resume_from):
  """Lets ``saver`` delete, beyond ``max_to_keep``, ``folder``'s checkpoints up to ``resume_from``."""
  listed = listed_checkpoints(folder, _quiet)  # Said on choosing resume_from.
  saver.recover_last_checkpoints(listed[:listed.index(resume_from) + 1])


def _pruned(folder, prefix):
  """Whether ``folder``'s trainer deleted ``prefix`` from its list (its files may remain)."""
  return os.path.isdir(folder) and prefix not in listed_checkpoints(folder, _quiet)


def _say_replaced(gone, prefix, warn):
  if gone:
    warn('checkpoint %s was deleted by its trainer while being read; using %s, the newest '
         'complete one' % (gone[0], prefix))


def newest_readable(folder, warn=_warn):
  """The newest checkpoint of ``folder`` that reads back whole (each newer, damaged one said
  through ``warn``), None when none is listed; a UsageError when none listed is readable."""
  gone = []
  for _ in range(READ_ATTEMPTS):
    damaged = []
    for prefix in reversed(listed_checkpoints(folder, warn)):
      reason = unreadable_because(prefix)
      if reason is None:
        break
      damaged.append((prefix, reason))
    else:
      prefix = None
    pruned = [bad for bad, _ in damaged if _pruned(folder, bad)]
    if not pruned:
      break
    gone.extend(pruned)
  if prefix is not None:
    for bad, bad_reason in damaged:
      warn('checkpoint %s is damaged (%s); using %s instead' % (bad, bad_reason, prefix))
    _say_replaced(gone, prefix, warn)
    return prefix
  if damaged:
    raise UsageError('%s: no readable checkpoint: %s' % (folder, '; '.join(
        '%s (%s)' % (os.path.basename(bad), reason) for bad, reason in damaged)))
  return None


def restore_newest(checkpoint_path, restore, prefix=None, warn=_warn):
  """Calls ``restore(prefix)`` with ``prefix``, else what ``checkpoint_path`` names (``resolve``), and returns
  the prefix restored: when a trainer deletes it first, its newest complete one, said through ``warn``. Raises
  UsageError as ``resolve`` does, or when the checkpoints keep being deleted."""
  gone = []
  for _ in range(READ_ATTEMPTS):
    prefix = prefix or resolve(checkpoint_path, warn)
    try:
      restore(prefix)
    except (tf.errors.OpError, UsageError, ValueError):
      if not _pruned(checkpoint_path, prefix):
        raise
      gone.append(prefix)
      prefix = None
      continue
    _say_replaced(gone, prefix, warn)
    return prefix
  raise UsageError('%s: its checkpoints were deleted while being read, %d times in a row '
                   '(%s ...)' % (checkpoint_path, len(gone), os.path.basename(gone[0])))


# Temporary files of TensorFlow's Saver and atomic_files, which a killed save leaves (never half a file).
_INTERRUPTED_WRITE = re.compile(
    r'(\.(data-\d+-of-\d+|index)\.tempstate\d+|\.meta\.tmp[0-9a-f]+|^checkpoint\.tmp[0-9a-f]+'
    r'|^\.%s\..+\.tmp)$' % re.escape(METADATA_FILE))
_CHECKPOINT_FILE = re.compile(r'\.(data-\d+-of-\d+|index|meta)$')


def _remove(paths):
  for path in paths:
    try:
      os.remove(path)
    except OSError as error:
      raise UsageError('%s: cannot remove an interrupted write: %s' % (path, error.strerror)) from None
  return len(paths)


def _interrupted_writes(folder):
  names = os.listdir(folder) if os.path.isdir(folder) else []
  return [os.path.join(folder, name) for name in filter(_INTERRUPTED_WRITE.search, names)]


def remove_interrupted_writes(folder):
  """Deletes what killed saves left in ``folder`` and its best/; returns the file count."""
  return sum(_remove(_interrupted_writes(candidate))
             for candidate in (folder, os.path.join(folder, BEST_SUBDIR)))


def remove_failed_save(folder, prefix):
  """Deletes what a failed save of ``prefix`` left in ``folder``, its own files too unless
  listed (then only its graph file failed); returns the file count."""
  partial = _interrupted_writes(folder)
  if prefix not in (listed_checkpoints(folder, _quiet) or ()):
    partial += glob.glob(glob.escape(prefix) + '.*')
  return _remove(sorted(set(partial)))


def bytes_held(train_dir):
  """The bytes of the checkpoint files in ``train_dir`` and its best/."""
  return sum(os.path.getsize(os.path.join(folder, name))
             for folder in (train_dir, os.path.join(train_dir, BEST_SUBDIR)) if os.path.isdir(folder)
             for name in os.listdir(folder) if _CHECKPOINT_FILE.search(name))


def resolve(checkpoint_path, warn=_warn):
  """A readable checkpoint prefix from a prefix or a folder (its newest readable one); a
  UsageError when nothing readable is there."""
  if os.path.isdir(checkpoint_path):
    prefix = newest_readable(checkpoint_path, warn)
    if prefix is None:
      raise SettingError('{checkpoint_path} %s: folder holds no checkpoint', checkpoint_path)
    return prefix
  if not os.path.exists(checkpoint_path + '.index'):
    raise SettingError('{checkpoint_path} %s: not a checkpoint (no %s.index)',
                       checkpoint_path, os.path.basename(checkpoint_path))
  reason = unreadable_because(checkpoint_path)
  if reason is not None:
    raise SettingError('{checkpoint_path} %s: damaged checkpoint (%s)', checkpoint_path, reason)
  return checkpoint_path


# A checkpoint resolved once for a command: ``path`` as named, its ``prefix`` and run's ``metadata``.
Resolved = collections.namedtuple('Resolved', ['path', 'prefix', 'metadata'])


def resolved(checkpoint):
  """``checkpoint`` (a path or a Resolved) as a Resolved; UsageErrors of ``resolve``, ``read_metadata``."""
  if isinstance(checkpoint, Resolved):
    return checkpoint
  prefix = resolve(checkpoint)
  return Resolved(checkpoint, prefix, read_metadata(prefix))


def variable_shapes(prefix):
  """Checkpoint variable name -> shape (list of ints)."""
  try:
    return dict(tf.train.list_variables(prefix))
  except (tf.errors.OpError, ValueError) as error:
    raise UsageError('%s: unreadable checkpoint: %s' % (prefix, first_cause(error))) from None


def global_step(prefix):
  """The ``global_step`` saved in a checkpoint, or None when it has none."""
  reader = tf.train.load_checkpoint(prefix)
  if not reader.has_tensor('global_step'):
    return None
  return metadata_checks.checked_global_step(prefix, reader.get_tensor('global_step'))


def write_metadata(train_dir, metadata):
  """Writes the run's metadata (model, classes, image size, ...) beside its checkpoints."""
  atomic_files.write_json(os.path.join(train_dir, METADATA_FILE), metadata)


def write_end(train_dir, metadata, step):
  """Records in the run's metadata that it ended at ``step`` (an evaluator stops there)."""
  metadata['ended'] = {'global_step': step, 'time': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
  write_metadata(train_dir, metadata)


def read_metadata(path):
  """The metadata of the run that wrote checkpoint (or folder) ``path``, from its folder or parent."""
  folder = path if os.path.isdir(path) else os.path.dirname(path)
  for candidate in (folder, os.path.dirname(folder)):
    metadata_path = os.path.join(candidate, METADATA_FILE)
    if os.path.exists(metadata_path):
      return metadata_checks.load_metadata(metadata_path)
  raise UsageError('%s: no %s beside the checkpoint; was it written by train_graph.py?'
                   % (path, METADATA_FILE))


def _describe(mismatches):
  more = len(mismatches) - MISMATCHES_SHOWN
  return '; '.join(mismatches[:MISMATCHES_SHOWN]) + ('; and %d more' % more if more > 0 else '')


def check_fits(prefix, variables_by_name):
  """Raises a UsageError listing the first variables that checkpoint ``prefix`` cannot
  fill; ``variables_by_name`` maps checkpoint names to graph variables (a Saver's var_list)."""
  shapes = variable_shapes(prefix)
  mismatches = []
  for name, variable in sorted(variables_by_name.items()):
    wanted = variable.shape.as_list()
    if name not in shapes:
      mismatches.append('%s missing' % name)
    elif list(shapes[name]) != wanted:
      mismatches.append('%s is %s in the checkpoint, %s in the model' % (name, list(shapes[name]), wanted))
  if mismatches:
    raise UsageError('%s does not fit this model: %s' % (prefix, _describe(mismatches)))


WarmStartReport = collections.namedtuple(
    'WarmStartReport', ['restored', 'excluded', 'missing', 'shape_mismatched'])


def match_variables(prefix, variables, exclude_scopes):
  """(name -> variable of those a restore from ``prefix`` would fill, WarmStartReport of
  ``variables``' names; a mismatch reads 'name [checkpoint shape] (model [shape])')."""
  shapes = variable_shapes(prefix)
  restorable, excluded, missing, mismatched = {}, [], [], []
  for variable in variables:
    name, wanted = variable.op.name, variable.shape.as_list()
    if any(name == scope or name.startswith(scope.rstrip('/') + '/') for scope in exclude_scopes):
      excluded.append(name)
    elif name not in shapes:
      missing.append(name)
    elif list(shapes[name]) != wanted:
      mismatched.append('%s %s (model %s)' % (name, list(shapes[name]), wanted))
    else:
      restorable[name] = variable
  return restorable, WarmStartReport(sorted(restorable), excluded, missing, mismatched)


def warm_start_saver(prefix, exclude_scopes, ignore_missing_vars):
  """(Saver filling this graph's model variables but ``exclude_scopes`` from another run's
  checkpoint, or None when nothing matches; WarmStartReport). Raises SettingError on a
  shape mismatch, or on a missing variable unless ``ignore_missing_vars``."""
  restorable, report = match_variables(prefix, slim.get_model_variables(), exclude_scopes)
  if report.shape_mismatched:
    raise SettingError('{checkpoint_path} %s: shape mismatch (exclude it with {checkpoint_exclude_scopes}): '
                       '%s', prefix, _describe(report.shape_mismatched))
  if report.missing and not ignore_missing_vars:
    raise SettingError('{checkpoint_path} %s: variables missing from the checkpoint (pass '
                       '{ignore_missing_vars} to initialize them): %s', prefix, _describe(report.missing))
  saver = tf.compat.v1.train.Saver(restorable) if restorable else None
  return saver, report


def summarize(report):
  """'12 restored, 2 excluded, 0 missing, 0 shape-mismatched'."""
  return ', '.join('%d %s' % (len(getattr(report, kind)), kind.replace('_', '-')) for kind in report._fields)
