"""Graph sessions that soft-place, so that a TF1 program which pins its model to
``/device:GPU:0`` runs on a machine without a GPU (``legacy-resnet-run``). ``install`` wraps
``BaseSession``, which every graph session (Supervisor's, MonitoredSession's ...) comes from."""

import functools
import re
import sys
import weakref

import tensorflow as tf
from tensorflow.python.client import session  # pylint: disable=g-direct-tensorflow-import

from legacy_resnet.core import native_stderr

NOTICE = ('legacy-resnet-run: no GPU is visible; operations pinned to %s run on the CPU '
          '(soft placement)\n')

# The start of a record of TensorFlow's C++ log, in absl's format (2.21: 'W0000 00:00:1.5    42 ')
# or its own (2.16: '2026-12-04 20:57:11.8: W '), and the placer's warning that a colocation
# group (a variable and its readers, say) had to leave its requested device.
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
  return min((device for device in devices if tf.DeviceSpec.from_string(device).device_type == 'GPU'),
             default=None)


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


def install():
  """Makes every graph session from now on soft-place (the caller's config is left as it
  was). With no GPU visible, the first session whose graph pins an operation to a GPU says
  so in one line, and the placer's warnings (some thirty lines for each variable moved off
  the GPU) are dropped. Safe to call repeatedly."""
  global _installed
  if _installed:
    return
  _installed = True
  init = session.BaseSession.__init__

  @functools.wraps(init)
  def soft_init(self, target='', graph=None, config=None):
    init(self, target, graph, soft_placing(config))

  session.BaseSession.__init__ = soft_init
  if tf.config.list_physical_devices('GPU'):
    return
  # Where a session hands new operations to the placer: at its first run and after the graph grew.
  extend_graph = session.BaseSession._extend_graph  # pylint: disable=protected-access

  @functools.wraps(extend_graph)
  def extend_quietly(self):
    global _notice_printed
    version = self.graph.version
    if _placed_versions.get(self) == version:
      return extend_graph(self)  # Nothing new to place: the step's usual path.
    if not _notice_printed and self not in _placed_versions:
      device = pinned_gpu(self.graph)
      if device:
        _notice_printed = True
        sys.stderr.write(NOTICE % device)
    _placed_versions[self] = version
    with native_stderr.filtered(without_colocation_warnings):
      return extend_graph(self)

  session.BaseSession._extend_graph = extend_quietly  # pylint: disable=protected-access
