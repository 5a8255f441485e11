"""Makes TF1-style code (tf.compat.v1 graphs and tf-slim 1.1.0) work on TensorFlow 2.16.2
to 2.21 (the oldest and newest versions .ci/run tests).

What it fixes, and nothing else:

* tf-slim's ``batch_norm`` reaches TensorFlow's lazily loaded
  ``tf_keras.legacy_tf_layers.normalization``, a module path that tf-keras >= 2.16
  only ships as ``tf_keras.src.legacy_tf_layers``.  An import hook maps the old path
  onto the new one, so ``tf_slim.layers.*`` and ``tf_slim.nets.*`` build graphs again.
  The user's own ``tf.keras`` stays Keras 3: ``TF_USE_LEGACY_KERAS`` is not touched.
* tf-slim 1.1.0 (2020) calls TensorFlow-internal names that TensorFlow has since moved
  to other modules (``array_ops.stack``, ``control_flow_ops.case``, ``ops.IndexedSlices``,
  ``variables.VariableV1`` ...). ``SHIMS`` lists each one, once: where tf-slim looks for
  it, where it lives now, and the TensorFlow versions that lack it. ``install`` puts each
  missing name back as the very object it moved to; a name TensorFlow still has is left
  alone. The same table names the one tf-slim function newer numpy breaks
  (``assign_from_checkpoint`` of partitioned variables), which ``slim_repairs`` mends when
  tf-slim loads. numpy itself is not touched.
* tf-slim triggers floods of deprecation log lines and ``layer.apply`` warnings on
  TF 2.21; they are filtered unless ``set_verbose(True)`` is called.
* TensorFlow 2.21's native start-up lines (oneDNN, CPU-feature and CUDA notices,
  printed before its C++ logging is initialized, so ``TF_CPP_MIN_LOG_LEVEL`` cannot
  hide them) are dropped when this module is what imports TensorFlow; every other line
  it writes to stderr during the import is passed on. ``LEGACY_RESNET_VERBOSE=1`` keeps
  them all.

The graph-mode session helpers live in ``sessions``; every private TensorFlow API the
project touches is listed in ``private_apis``.
"""

import collections
import contextlib
import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
import warnings

from legacy_resnet.core import native_stderr

_NATIVE_NOISE = re.compile(
    rb'^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to '
    rb'STDERR|I0000 .*(oneDNN custom operations|Could not find cuda drivers|cpu_feature_guard).*'
    rb'|To enable the following instructions: .* rebuild TensorFlow with the appropriate '
    rb'compiler flags\.)$')


def _without_native_noise(log):
  return b''.join(line for line in log.splitlines(keepends=True)
                  if not _NATIVE_NOISE.match(line.rstrip(b'\n')))


def _native_start_up_lines_dropped():
  """Filters fd 2 while TensorFlow loads, unless it has loaded or the user wants it all."""
  if 'tensorflow' in sys.modules or os.environ.get('LEGACY_RESNET_VERBOSE'):
    return contextlib.nullcontext()
  return native_stderr.filtered(_without_native_noise)


with _native_start_up_lines_dropped():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

_OLD_PACKAGE = 'tf_keras.legacy_tf_layers'
_NEW_PACKAGE = 'tf_keras.src.legacy_tf_layers'


class CompatError(ImportError):
  """The installed packages cannot run tf-slim; the message says how to fix it."""


def tf_keras_problem():
  """Returns a one-line description of what is wrong with tf-keras, or None."""
  tf_version = tf.__version__
  wanted = '.'.join(tf_version.split('.')[:2])
  fix = 'pip install tf-keras==%s' % tf_version
  try:
    installed = importlib.metadata.version('tf-keras')
  except importlib.metadata.PackageNotFoundError:
    return ('tf-keras is not installed; tf-slim layers need it on TensorFlow %s: %s'
            % (tf_version, fix))
  if '.'.join(installed.split('.')[:2]) != wanted:
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


def _old_path_resolves():
  """True when this tf-keras still ships the pre-2.16 module layout."""
  try:
    return importlib.util.find_spec(_OLD_PACKAGE) is not None
  except ImportError:
    return False


Shim = collections.namedtuple('Shim', ['home', 'name', 'target', 'needed_on'])
Shim.__doc__ = """One name tf-slim calls, as ``home.name``, served by the object at ``target``.

``needed_on`` is ``(package, oldest, newest)``: the versions of ``package`` (major.minor;
``newest`` None: every later one too) on which the name needs the shim. A shim whose target
lives in TensorFlow supplies a name TensorFlow moved, and only where ``home`` lacks it;
one whose target lives in this package repairs a tf-slim function, and its target is a
factory that takes the original and returns the repaired function."""

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
    # The function TF1 code called to make a variable through the creator stack, which is
    # what constructing a VariableV1 does today.
    Shim(_OPS + 'variable_scope', 'variable', _OPS + 'variable_v1.VariableV1', _MOVED),
    Shim(_OPS + 'variable_scope', 'enable_resource_variables',
         _OPS + 'resource_variables_toggle.enable_resource_variables', _MOVED),
    Shim(_OPS + 'variable_scope', 'disable_resource_variables',
         _OPS + 'resource_variables_toggle.disable_resource_variables', _MOVED),
    Shim(_OPS + 'variable_scope', 'resource_variables_enabled',
         _OPS + 'resource_variables_toggle.resource_variables_enabled', _MOVED),
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


def _major_minor(version):
  return tuple(int(part) for part in version.split('.')[:2])


def needed(shim):
  """Whether the installed version of ``shim.needed_on``'s package needs ``shim``."""
  package, oldest, newest = shim.needed_on
  # The module's own version: reading the installed distributions' metadata costs more.
  installed = _major_minor(importlib.import_module(package).__version__)
  return _major_minor(oldest) <= installed and (newest is None or
                                                installed <= _major_minor(newest))


def _is_repair(shim):
  return shim.target.startswith(__package__ + '.')


def _apply(shim, home):
  """Applies ``shim`` to its (loaded) home module, once."""
  if shim in _applied:
    return
  if _is_repair(shim):
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
    for finder in sys.meta_path:
      if finder is self or not hasattr(finder, 'find_spec'):
        continue
      spec = finder.find_spec(fullname, path, target)
      if spec is not None:
        spec.loader = _ShimmingLoader(spec.loader)
        return spec
    return None


class _ShimmingLoader(importlib.abc.Loader):
  """Wraps a module's real loader: runs the module, then applies its shims."""

  def __init__(self, loader):
    self._loader = loader

  def __getattr__(self, name):  # get_source, get_filename ...: the real loader's.
    return getattr(self._loader, name)

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    self._loader.exec_module(module)
    for shim in SHIMS:
      if shim.home == module.__name__:
        _apply(shim, module)


def _install_shims():
  """Applies the shims of loaded modules now, and of the others when they load."""
  later = set()
  for shim in SHIMS:
    if shim.home in sys.modules or shim.home.startswith('tensorflow.'):
      _apply(shim, importlib.import_module(shim.home))
    else:
      later.add(shim.home)
  if later and not any(isinstance(finder, _ShimOnImport) for finder in sys.meta_path):
    sys.meta_path.insert(0, _ShimOnImport(frozenset(later)))


def install():
  """Makes tf-slim work on this TensorFlow. Safe to call repeatedly."""
  _install_shims()
  if any(isinstance(finder, _LegacyLayersAlias) for finder in sys.meta_path):
    return
  if tf_keras_problem() is None and _old_path_resolves():
    return
  sys.meta_path.append(_LegacyLayersAlias())


class _DeprecationFilter(logging.Filter):
  """Drops TensorFlow's per-call deprecation notices, keeps every other record."""

  _PATTERN = re.compile(r'deprecat|is deprecated|will be removed', re.IGNORECASE)

  def filter(self, record):
    return not self._PATTERN.search(record.getMessage())


_deprecation_filter = _DeprecationFilter()
# Python warnings tf-slim's layers raise on every call under TF 2.x.
_LAYER_WARNINGS = (r'`layer\.apply` is deprecated', r'`tf\.layers\.\w+` is deprecated')


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
