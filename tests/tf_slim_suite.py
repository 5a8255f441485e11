"""A pytest plugin that runs tf-slim 1.1.0's own test suite, from the installed wheel, with
the compatibility layer loaded first:

    python -m pytest -p tests.tf_slim_suite --noconftest --pyargs tf_slim

(``--noconftest``: with ``--pyargs``, pytest would also load tests/conftest.py, which
imports legacy_resnet whatever the options say.)

Nothing of tf-slim is copied or edited. Three kinds of help, each listed here:

* ``import legacy_resnet`` before any test module loads (``--without-compat-layer``
  leaves it out, to count what the layer fixes);
* test-body aids: tf-slim's test modules (never its library) were written for numpy 1
  and nose; TEST_BODY_AIDS gives the listed test modules the numpy 1 names they use, and
  a ``nose.tools`` stand-in is importable when nose is not installed;
* KNOWN_FAILURES: the tests that cannot pass for reasons outside tf-slim's library code,
  each with its reason and the versions it fails on. They run as strict xfails: one that
  starts to pass fails the run, so the list cannot go stale. docs/compat.md lists them.
"""

import builtins
import collections
import importlib.metadata
import os
import sys
import types

import numpy
import pytest

# Where tf-slim's test modules are, relative to the tf_slim package: 'x/y_test.py'.
_SLIM_ROOT = None


def _at_least(package, version):
  installed = importlib.metadata.version(package).split('.')[:2]
  return tuple(map(int, installed)) >= tuple(map(int, version.split('.')))


# -- test-body aids --------------------------------------------------------------------

_NUMPY_1_ALIASES = {'object': object, 'float': float, 'bool': bool, 'product': numpy.prod}


class _Numpy1Names(types.ModuleType):
  """numpy, plus the aliases that numpy 1.24 or 2.0 removed (np.object, np.float,
  np.product; np.bool, which numpy 1.24 to 1.26 lack)."""

  def __init__(self):
    super().__init__('numpy')

  def __getattr__(self, name):
    if name in _NUMPY_1_ALIASES and not hasattr(numpy, name):
      return _NUMPY_1_ALIASES[name]
    return getattr(numpy, name)


def _numpy_1_int(value=0, *base):
  """``int`` as numpy 1 let it take a one-element array (``int(np.array([2.0]))`` == 2)."""
  if isinstance(value, numpy.ndarray) and value.size == 1:
    value = value.item()
  return builtins.int(value, *base)


def _numpy_1_aliases(module):
  module.np = _Numpy1Names()


def _numpy_1_int_conversion(module):
  module.int = _numpy_1_int


# tf-slim test module -> the aids its test bodies need on numpy 2.
TEST_BODY_AIDS = {
    'layers/layers_test.py': (_numpy_1_aliases,),  # np.product
    'layers/sparse_ops_test.py': (_numpy_1_aliases,),  # np.object, np.bool
    'losses/metric_learning_test.py': (_numpy_1_aliases,),  # np.float
    'metrics/metric_ops_large_test.py': (_numpy_1_aliases,),  # np.product
    # Their set-ups build training data with int() of one-element arrays.
    'learning_test.py': (_numpy_1_int_conversion,),
    'training/training_test.py': (_numpy_1_int_conversion,),
    'training/evaluation_test.py': (_numpy_1_int_conversion,),
}


def _nose_stand_in():
  """``nose.tools.nottest``, the one nose name tf-slim's tests import."""
  nose = types.ModuleType('nose')
  nose.tools = types.ModuleType('nose.tools')

  def nottest(function):
    function.__test__ = False
    return function

  nose.tools.nottest = nottest
  return nose


# -- known failures ------------------------------------------------------------------

KnownFailure = collections.namedtuple('KnownFailure', ['test', 'fails_on', 'reason'])

_NUMPY_2 = ('numpy', '2.0')
KNOWN_FAILURES = (
    KnownFailure('data/tfexample_decoder_test.py::TFExampleDecoderTest::'
               'testDecodeExampleWithRAWEncoding', _NUMPY_2,
               'the test body encodes its image with ndarray.tostring(), which numpy 2 '
               'removed (tf-slim decodes raw images fine: other tests show it)'),
    KnownFailure('data/tfexample_decoder_test.py::TFExampleDecoderTest::'
               'testDecodeExampleWithRawEncoding', _NUMPY_2,
               'the test body uses ndarray.tostring(), removed in numpy 2'),
    KnownFailure('data/tfexample_decoder_test.py::TFExampleDecoderTest::'
               'testDecodeExampleWithRawEncodingFloatDtype', _NUMPY_2,
               'the test body uses ndarray.tostring(), removed in numpy 2'),
    KnownFailure('metrics/classification_test.py::F1ScoreTest::testSomeCorrect', _NUMPY_2,
               "numpy 2's promotion rules (NEP 50) keep float32 when the test subtracts "
               "its Python float from tf-slim's float32 result, so the 7-place comparison "
               "sees float32 rounding (6e-8) that numpy 1 hid in float64"),
    KnownFailure('layers/layers_test.py::DropoutTest::testCreateDropout',
               ('tensorflow', '2.16'),
               "the test checks the name of TensorFlow's last dropout op; TensorFlow now "
               "builds dropout with a select where it multiplied (same values)"),
    KnownFailure('metrics/metric_ops_test.py::CountTest::testReturnType', ('tensorflow', '2.16'),
               "with resource variables the update op is TensorFlow's read-back variable, "
               "which TensorFlow 2.13 made a Variable but no longer a VariableV1, the "
               "class the test checks for"),
    KnownFailure('evaluation_test.py::SingleEvaluationTest::testAdditionalHooks',
                 ('tensorflow', '2.16'),
                 "the test body passes log_usage= to TensorFlow's DumpingDebugHook, an "
                 'argument TensorFlow has since removed'),
    KnownFailure('ops/variables_test.py::VariablesTest::testVariableWithReplicaDeviceSetter',
               ('tensorflow', '2.16'),
               "TensorFlow now writes the parameter server's device in full "
               "('/job:ps/task:0/device:CPU:0'), where the test expects '/job:ps/task:0'"),
)


# -- pytest hooks ----------------------------------------------------------------------

def pytest_addoption(parser):
  parser.addoption('--without-compat-layer', action='store_true',
                   help="run tf-slim's tests without importing legacy_resnet first "
                        '(to count what the compatibility layer fixes)')


def pytest_configure(config):
  global _SLIM_ROOT
  if config.getoption('--without-compat-layer') and 'legacy_resnet' in sys.modules:
    raise pytest.UsageError('--without-compat-layer: legacy_resnet is already imported '
                            '(by a conftest.py? add --noconftest)')
  if not config.getoption('--without-compat-layer'):
    import legacy_resnet  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  try:
    import nose  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    nose = _nose_stand_in()
    sys.modules['nose'], sys.modules['nose.tools'] = nose, nose.tools
  import tf_slim  # pylint: disable=g-import-not-at-top
  _SLIM_ROOT = os.path.dirname(tf_slim.__file__)


def slim_test_id(item):
  """'x/y_test.py::Class::test' for a tf-slim test, None for any other."""
  path = os.path.realpath(str(item.path))
  if not path.startswith(os.path.realpath(_SLIM_ROOT) + os.sep):
    return None
  module = os.path.relpath(path, os.path.realpath(_SLIM_ROOT)).replace(os.sep, '/')
  return '::'.join([module] + item.nodeid.split('::')[1:])


@pytest.hookimpl(tryfirst=True)  # Before -k and -m deselect: the staleness check sees all.
def pytest_collection_modifyitems(items):
  aided = set()
  known_failures = {known.test: known for known in KNOWN_FAILURES
                    if _at_least(*known.fails_on)}
  collected = set()
  for item in items:
    test = slim_test_id(item)
    if test is None:
      continue
    collected.add(test)
    module = test.split('::')[0]
    if module in TEST_BODY_AIDS and module not in aided:
      for aid in TEST_BODY_AIDS[module]:
        aid(item.module)
      aided.add(module)
    if test in known_failures:
      item.add_marker(pytest.mark.xfail(reason=known_failures[test].reason, strict=True))
  modules = {test.split('::')[0] for test in collected}
  gone = [known.test for known in KNOWN_FAILURES
          if known.test.split('::')[0] in modules and known.test not in collected]
  if gone:
    raise pytest.UsageError('tests/tf_slim_suite.py lists tests tf-slim does not have: %s'
                            % ', '.join(gone))
