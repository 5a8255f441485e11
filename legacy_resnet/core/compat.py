"""Makes TF1-style code (tf.compat.v1 graphs and tf-slim 1.1.0) work on TensorFlow 2.16.2 to
2.21 (docs/compat.md): maps tf-slim's old tf-keras module path onto the new one, puts back
the TensorFlow names tf-slim calls that have moved (``SHIMS``), and hides the warning floods
and TensorFlow's native start-up lines (``set_verbose``, ``LEGACY_RESNET_VERBOSE=1``)."""

import collections
import contextlib
import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import os
import re
import sys
import warnings

from legacy_resnet.core import native_stderr

# Printed before TensorFlow's C++ logging is initialized, so TF_CPP_MIN_LOG_LEVEL cannot hide them.
_NATIVE_NOISE = re.compile(
    rb'^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to '
    rb'STDERR|I0000 .*(oneDNN custom operations|Could not find cuda drivers|cpu_feature_guard).*'
    rb'|To enable the following instructions: .* rebuild TensorFlow with the appropriate '
    rb'compiler flags\.)$')


def _without_native_noise(log):
  return b''.join(line for line in log.splitlines(keepends=True)
                  if not _NATIVE_NOISE.match(line.rstrip(b'\n')))


# Filtered only when this module is what loads TensorFlow, and not when the user wants it all.
_QUIET_START = 'tensorflow' not in sys.modules and not os.environ.get('LEGACY_RESNET_VERBOSE')
with native_stderr.filtered(_without_native_noise) if _QUIET_START else contextlib.nullcontext():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

_OLD_PACKAGE = 'tf_keras.legacy_tf_layers'
_NEW_PACKAGE = 'tf_keras.src.legacy_tf_layers'


class CompatError(ImportError):
  """The installed packages cannot run tf-slim; the message says how to fix it."""


def tf_keras_problem():
  """Returns a one-line description of what is wrong with tf-keras, or None."""
  tf_version = tf.__version__
  fix = 'pip install tf-keras==%s' % tf_version
  try:
    installed = importlib.metadata.version('tf-keras')
  except importlib.metadata.PackageNotFoundError:
    return ('tf-keras is not installed; tf-slim layers need it on TensorFlow %s: %s'
            % (tf_version, fix))
  if installed.split('.')[:2] != tf_version.split('.')[:2]:
    return ('tf-keras %s does not match TensorFlow %s: %s' % (installed, tf_version, fix))
  return None


class _LegacyLayersAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Serves ``tf_keras.legacy_tf_layers[.x]`` from ``tf_keras.src.legacy_tf_layers[.x]``."""

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    if fullname != _OLD_PACKAGE and not fullname.startswith(_OLD_PACKAGE + '.'):
      return None
    return importlib.util.spec_from_loader(fullname, self)

  def create_module(self, spec):
    problem = tf_keras_problem()
    if problem:
      raise CompatError(problem)
    return importlib.import_module(_NEW_PACKAGE + spec.name[len(_OLD_PACKAGE):])

  def exec_module(self, module):
    del module  # Already executed under its real name.


Shim = collections.namedtuple('Shim', ['home', 'name', 'target', 'needed_on'])
Shim.__doc__ = """One name tf-slim calls, as ``home.name``, served by the object at ``target``.

``needed_on`` is ``(package, oldest, newest)``: the major.minor versions of ``package`` that
need the shim (``newest`` None: every later one too). A ``target`` in TensorFlow is put back
only where ``home`` lacks the name; one in this package is a factory that takes tf-slim's
function and returns the repaired one."""

# Each moved before TensorFlow 2.16 and has not come back (2.16.2 to 2.21.0 all lack it).
_MOVED = ('tensorflow', '2.16', None)
_OPS = 'tensorflow.python.ops.'
_FRAMEWORK = 'tensorflow.python.framework.'
SHIMS = (
    Shim(_FRAMEWORK + 'ops', 'Tensor', _FRAMEWORK + 'tensor.Tensor', _MOVED),
    Shim(_FRAMEWORK + 'ops', 'IndexedSlices', _FRAMEWORK + 'indexed_slices.IndexedSlices',
         _MOVED),
    Shim(_OPS + 'array_ops', 'stack', _OPS + 'array_ops_stack.stack', _MOVED),
    Shim(_OPS + 'array_ops', 'unstack', _OPS + 'array_ops_stack.unstack', _MOVED),
    Shim(_OPS + 'control_flow_ops', 'cond', _OPS + 'cond.cond', _MOVED),
    Shim(_OPS + 'control_flow_ops', 'case', _OPS + 'control_flow_case.case', _MOVED),
    Shim(_OPS + 'control_flow_ops', 'Assert', _OPS + 'control_flow_assert.Assert', _MOVED),
    Shim(_OPS + 'control_flow_ops', 'while_loop', _OPS + 'while_loop.while_loop', _MOVED),
    Shim(_OPS + 'variables', 'VariableV1', _OPS + 'variable_v1.VariableV1', _MOVED),
    # What TF1 code called to make a variable through the creator stack, as VariableV1 does now.
    Shim(_OPS + 'variable_scope', 'variable', _OPS + 'variable_v1.VariableV1', _MOVED),
    *(Shim(_OPS + 'variable_scope', name, _OPS + 'resource_variables_toggle.' + name, _MOVED)
      for name in ('enable_resource_variables', 'disable_resource_variables',
                   'resource_variables_enabled')),
    # numpy 1.23 stopped indexing with a list of slices, which is how tf-slim reads the
    # part of a checkpoint value that a partitioned variable restores.
    Shim('tf_slim.ops.variables', 'assign_from_checkpoint',
         'legacy_resnet.core.slim_repairs.assign_from_checkpoint', ('numpy', '1.23', None)),
)

_applied = []  # The shims install() applied, in the order it applied them.


def resolve(dotted):
  """The object ``package.module.attribute`` names (raises ImportError or AttributeError)."""
  module, _, name = dotted.rpartition('.')
  return getattr(importlib.import_module(module), name)


def needed(shim):
  """Whether the installed version of ``shim.needed_on``'s package needs ``shim``."""
  package, oldest, newest = shim.needed_on
  # The module's own version: reading the installed distributions' metadata costs more.
  installed, oldest, newest = [version and tuple(int(part) for part in version.split('.')[:2])
                               for version in (importlib.import_module(package).__version__,
                                               oldest, newest)]
  return oldest <= installed and (newest is None or installed <= newest)


def _apply(shim, home):
  """Applies ``shim`` to its (loaded) home module, once."""
  if shim in _applied:
    return
  if shim.target.startswith(__package__ + '.'):  # A repair of a tf-slim function.
    if not needed(shim):
      return
    original = getattr(home, shim.name)
    value = resolve(shim.target)(original)
    # A package that has already run copied the name (``from home import *``).
    package = shim.home.split('.')[0]
    for name, module in list(sys.modules.items()):
      if name.split('.')[0] == package and getattr(module, shim.name, None) is original:
        setattr(module, shim.name, value)
  elif hasattr(home, shim.name):
    return
  else:
    value = resolve(shim.target)
  setattr(home, shim.name, value)
  _applied.append(shim)


def applied():
  """The shims this process needed and got."""
  return list(_applied)


class _ShimOnImport(importlib.abc.MetaPathFinder):
  """Applies the shims of a module that is not loaded yet (tf-slim's) right after it
  runs, before any other module can copy the names it defines."""

  def __init__(self, homes):
    self._homes = homes

  def find_spec(self, fullname, path=None, target=None):
    if fullname not in self._homes:
      return None
    specs = (finder.find_spec(fullname, path, target) for finder in sys.meta_path
             if finder is not self and hasattr(finder, 'find_spec'))
    spec = next((spec for spec in specs if spec is not None), None)
    if spec is None:
      return None
    run_module = spec.loader.exec_module

    def exec_module(module):
      run_module(module)
      for shim in SHIMS:
        if shim.home == module.__name__:
          _apply(shim, module)

    spec.loader.exec_module = exec_module  # This spec's own loader (were it shared: harmless).
    return spec


def install():
  """Makes tf-slim work on this TensorFlow. Safe to call repeatedly."""
  later = set()  # Homes not loaded yet get their shims when they load.
  for shim in SHIMS:
    if shim.home in sys.modules or shim.home.startswith('tensorflow.'):
      _apply(shim, importlib.import_module(shim.home))
    else:
      later.add(shim.home)
  if later and not any(isinstance(finder, _ShimOnImport) for finder in sys.meta_path):
    sys.meta_path.insert(0, _ShimOnImport(frozenset(later)))
  if any(isinstance(finder, _LegacyLayersAlias) for finder in sys.meta_path):
    return
  if tf_keras_problem() is None:
    try:
      if importlib.util.find_spec(_OLD_PACKAGE) is not None:  # A tf-keras from before 2.16.
        return
    except ImportError:
      pass
  sys.meta_path.append(_LegacyLayersAlias())


_DEPRECATION = re.compile(r'deprecat|will be removed', re.IGNORECASE)
# Python warnings tf-slim's layers raise on every call under TF 2.x.
_LAYER_WARNINGS = (r'`layer\.apply` is deprecated', r'`tf\.layers\.\w+` is deprecated')


def _deprecation_filter(record):
  """Drops TensorFlow's per-call deprecation notices, keeps every other record."""
  return not _DEPRECATION.search(record.getMessage())


def set_verbose(verbose):
  """Shows (True) or hides (False) the warning floods tf-slim causes on TF 2.x."""
  tf_logger = tf.get_logger()
  if verbose:
    tf_logger.removeFilter(_deprecation_filter)
  else:
    tf_logger.addFilter(_deprecation_filter)  # logging ignores a repeated add.
  for message in _LAYER_WARNINGS:
    warnings.filterwarnings('default' if verbose else 'ignore', message=message)


install()
set_verbose(False)
