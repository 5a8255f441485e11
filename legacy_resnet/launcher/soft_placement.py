"""Graph sessions that soft-place, so that a TF1 program which pins its model to
``/device:GPU:0`` (as model_deploy-era scripts did) runs on a machine without a GPU.
Used by ``legacy-resnet-run``.

``install`` wraps two methods of TensorFlow's ``BaseSession``, the class every graph
session comes from: ``tf.compat.v1.Session`` and ``InteractiveSession``, and the sessions
that ``Supervisor``, ``SessionManager`` and ``MonitoredSession`` (and so
``slim.learning.train`` and ``slim.evaluation``) create.

* The constructor: each session gets its config with ``allow_soft_placement`` on (a copy:
  the caller's config is left as it was).
* ``_extend_graph``, where the session hands new operations to TensorFlow's placer (at
  its first run, and at a run after the graph grew), and only when no GPU is visible:
  the first session whose graph pins an operation to a GPU prints one notice line on
  stderr, so that a run meant for a GPU does not pass silently on the CPU; and the
  placer's own warnings, a block of some thirty lines for each variable moved off the
  missing GPU, are dropped.
"""

import functools
import re
import sys
import weakref

import tensorflow as tf
from tensorflow.python.client import session  # pylint: disable=g-direct-tensorflow-import

from legacy_resnet.core import native_stderr

NOTICE = ('legacy-resnet-run: no GPU is visible; operations pinned to %s run on the CPU '
          '(soft placement)\n')

# The start of a record of TensorFlow's C++ log, in absl's format (TensorFlow 2.21:
# 'W0000 00:00:1.5    42 ') or its own (2.16: '2026-12-04 20:57:11.8: W '), and the
# placer's warning that a colocation group (a variable and its readers, say) had to
# leave its requested device.
_LOG_RECORD = re.compile(rb'^(?:[IWEF]\d{4} [\d:.]+ +\d+ |\d{4}-\d\d-\d\d [\d:.]+: [IWEF] )')
_COLOCATION_WARNING = re.compile(rb'^(?:W\d{4} [\d:.]+ +\d+ |\d{4}-\d\d-\d\d [\d:.]+: W )'
                                 rb'\S*colocation_graph\.cc:\d+\] Failed to place the graph '
                                 rb'without changing the devices')

_installed = False
_notice_printed = False
_placed_versions = weakref.WeakKeyDictionary()  # session -> graph version it last placed


def soft_placing(config):
  """A copy of the ConfigProto ``config`` (None: the default one) that soft-places."""
  soft = tf.compat.v1.ConfigProto()
  if config is not None:
    soft.CopyFrom(config)
  soft.allow_soft_placement = True
  return soft


def pinned_gpu(graph):
  """The first GPU device (by name) an operation of ``graph`` is pinned to, or None."""
  devices = {operation.device for operation in graph.get_operations()} - {''}
  gpus = [device for device in devices
          if tf.DeviceSpec.from_string(device).device_type == 'GPU']
  return min(gpus) if gpus else None


def without_colocation_warnings(log):
  """Native stderr output ``log`` (bytes) less the placer's colocation warnings, each a
  record of many lines that runs until the next record starts. (A line another thread
  wrote right after such a warning, while the placer ran, goes with it.)"""
  kept, dropping = [], False
  for line in log.splitlines(keepends=True):
    if _LOG_RECORD.match(line):
      dropping = bool(_COLOCATION_WARNING.match(line))
    if not dropping:
      kept.append(line)
  return b''.join(kept)


def _tell_if_pinned_to_a_gpu(graph):
  global _notice_printed
  device = pinned_gpu(graph)
  if device:
    _notice_printed = True
    sys.stderr.write(NOTICE % device)


def _soft_placing_init(init):
  @functools.wraps(init)
  def soft_init(self, target='', graph=None, config=None):
    init(self, target, graph, soft_placing(config))

  return soft_init


def _quietly_placing(extend_graph):
  @functools.wraps(extend_graph)
  def extend_quietly(self):
    version = self.graph.version
    if _placed_versions.get(self) == version:
      return extend_graph(self)  # Nothing new to place: the step's usual path.
    if not _notice_printed and self not in _placed_versions:
      _tell_if_pinned_to_a_gpu(self.graph)
    _placed_versions[self] = version
    with native_stderr.filtered(without_colocation_warnings):
      return extend_graph(self)

  return extend_quietly


def install():
  """Makes every graph session from now on soft-place, and (with no GPU visible) say so
  once, quietly. Safe to call repeatedly."""
  global _installed
  if _installed:
    return
  _installed = True
  session.BaseSession.__init__ = _soft_placing_init(session.BaseSession.__init__)
  if not tf.config.list_physical_devices('GPU'):
    session.BaseSession._extend_graph = _quietly_placing(  # pylint: disable=protected-access
        session.BaseSession._extend_graph)  # pylint: disable=protected-access
