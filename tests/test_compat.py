"""The compatibility layer's shims (legacy_resnet/core/compat.py SHIMS): each is applied exactly
where this installation needs it, serves what it names, and tf-slim 1.1.0's library code
calls no TensorFlow or numpy name that is missing once the layer is in. tf-slim's own test
suite (tests/tf_slim_suite.py, run by .ci/run) checks the same from the inside."""

import ast
import importlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim
from scriptutil import ROOT

from legacy_resnet.core import compat


@pytest.mark.parametrize('shim', compat.SHIMS, ids=lambda shim: '%s.%s' % (
    shim.home.split('.')[-1], shim.name))
def test_each_shim_is_applied_where_needed_and_serves_its_target(shim):
  home = importlib.import_module(shim.home)
  assert (shim in compat.applied()) == compat.needed(shim), (
      '%s.%s: needed_on %s disagrees with this installation' % (shim.home, shim.name,
                                                               shim.needed_on))
  if shim not in compat.applied():
    return
  served = getattr(home, shim.name)
  if shim.target.startswith('legacy_resnet.'):
    assert served.__wrapped__ is not served and served.__module__ == shim.home
  else:
    assert served is compat.resolve(shim.target)


def test_each_shim_is_listed_once():
  names = [(shim.home, shim.name) for shim in compat.SHIMS]
  assert len(names) == len(set(names))


def _library_sources():
  root = os.path.dirname(slim.__file__)
  for folder, _, files in os.walk(root):
    for name in sorted(files):
      if name.endswith('.py') and not name.endswith('_test.py'):
        yield os.path.join(folder, name)


def _module_aliases(tree):
  """{local name: module} for the TensorFlow and numpy modules a source imports."""
  aliases = {}
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('tensorflow'):
      for alias in node.names:
        try:
          aliases[alias.asname or alias.name] = importlib.import_module(
              '%s.%s' % (node.module, alias.name))
        except ImportError:
          pass  # A class or function, not a module.
    elif isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name.split('.')[0] in ('tensorflow', 'numpy') and alias.asname:
          aliases[alias.asname] = importlib.import_module(alias.name)
  return aliases


def missing_names(path):
  """'file:line module.name' for each ``module.name`` the source uses that is missing."""
  with open(path, encoding='utf-8') as stream:
    tree = ast.parse(stream.read())
  aliases = _module_aliases(tree)
  missing = [(node.lineno, '%s.%s' % (aliases[node.value.id].__name__, node.attr))
             for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
             and node.value.id in aliases and not hasattr(aliases[node.value.id], node.attr)]
  return ['%s:%d %s' % (os.path.basename(path), line, name) for line, name in sorted(missing)]


def test_tf_slim_library_code_calls_no_missing_name():
  sources = list(_library_sources())
  assert len(sources) > 40
  missing = [name for path in sources for name in missing_names(path)]
  assert not missing, 'tf-slim calls names this TensorFlow/numpy lacks: %s' % missing


def test_the_scan_finds_a_missing_name(tmp_path):
  source = tmp_path / 'old_code.py'
  source.write_text('from tensorflow.python.ops import array_ops\nimport numpy as np\n'
                    'array_ops.no_such_op(1)\narray_ops.identity(1)\nnp.no_such_alias\n')
  assert missing_names(str(source)) == [
      'old_code.py:3 tensorflow.python.ops.array_ops.no_such_op',
      'old_code.py:5 numpy.no_such_alias']


def _encoded(image, image_format):
  with tf.Graph().as_default(), tf.Session() as session:
    encode = tf.image.encode_png if image_format == 'png' else tf.image.encode_jpeg
    return session.run(encode(tf.constant(image)))


@pytest.mark.parametrize('image_format', ['png', 'jpeg'])
def test_tfexample_decoder_reads_png_and_jpeg_records(tmp_path, image_format):
  rng = np.random.RandomState(0)
  image = (rng.rand(12, 10, 3) * 255).astype(np.uint8)
  encoded = _encoded(image, image_format)
  path = str(tmp_path / 'images.tfrecord')
  example = tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[encoded])),
      'image/format': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[image_format.encode()])),
      'image/class/label': tf.train.Feature(int64_list=tf.train.Int64List(value=[4])),
  }))
  with tf.io.TFRecordWriter(path) as writer:
    writer.write(example.SerializeToString())
  decoder = slim.tfexample_decoder.TFExampleDecoder(
      {'image/encoded': tf.FixedLenFeature((), tf.string, default_value=''),
       'image/format': tf.FixedLenFeature((), tf.string, default_value='png'),
       'image/class/label': tf.FixedLenFeature([], tf.int64)},
      {'image': slim.tfexample_decoder.Image(shape=(12, 10, 3)),
       'label': slim.tfexample_decoder.Tensor('image/class/label')})
  with tf.Graph().as_default(), tf.Session() as session:
    record = next(iter(tf.io.tf_record_iterator(path)))
    decoded, label = session.run(decoder.decode(tf.constant(record), ['image', 'label']))
    # PNG is lossless; JPEG must come out as TensorFlow's own JPEG decoder reads it.
    expected = image if image_format == 'png' else session.run(tf.image.decode_jpeg(encoded))
  assert label == 4 and decoded.shape == (12, 10, 3)
  np.testing.assert_array_equal(decoded, expected)


def _checkpoint(tmp_path, values):
  with tf.Graph().as_default(), tf.Session() as session:
    for name, value in values.items():
      tf.Variable(value, name=name)
    session.run(tf.global_variables_initializer())
    return tf.train.Saver().save(session, str(tmp_path / 'model.ckpt'))


def test_assign_from_checkpoint_restores_partitioned_and_whole_variables(tmp_path):
  table = np.arange(12, dtype=np.float32).reshape(6, 2)
  bias = np.array([7.0, 8.0], np.float32)
  path = _checkpoint(tmp_path, {'table': table, 'bias': bias})
  with tf.Graph().as_default(), tf.Session() as session:
    parts = tf.get_variable('table', shape=(6, 2),
                            partitioner=tf.fixed_size_partitioner(3))
    whole = tf.get_variable('bias', shape=(2,))
    assign, feed = slim.assign_from_checkpoint(path, {'table': list(parts), 'bias': whole})
    session.run(tf.global_variables_initializer())
    session.run(assign, feed)
    np.testing.assert_array_equal(session.run(tf.concat(list(parts), 0)), table)
    np.testing.assert_array_equal(session.run(whole), bias)
    assert [session.run(part).shape for part in parts] == [(2, 2)] * 3


def test_assign_from_checkpoint_names_a_missing_partitioned_variable(tmp_path):
  path = _checkpoint(tmp_path, {'bias': np.zeros(2, np.float32)})
  with tf.Graph().as_default():
    parts = tf.get_variable('table', shape=(4, 2), partitioner=tf.fixed_size_partitioner(2))
    with pytest.raises(ValueError, match=r'missing variable \[table\]'):
      slim.assign_from_checkpoint(path, list(parts))
    _, feed = slim.assign_from_checkpoint(path, list(parts), ignore_missing_vars=True)
    assert feed == {}


# Run in a fresh interpreter: the import order and the untouched names are what is tested.
_FRESH = '''
import sys, numpy, tf_slim
import legacy_resnet
from legacy_resnet.core import compat
import tensorflow as tf
variables = sys.modules['tf_slim.ops.variables']
print('repaired after tf-slim loaded first:',
      tf_slim.assign_from_checkpoint is variables.assign_from_checkpoint is not
      variables.assign_from_checkpoint.__wrapped__)
print('keras:', tf.keras.__name__.split('.')[0], tf.keras.__version__.split('.')[0])
print('numpy aliases:', [name for name in ('object', 'float', 'product') if name in dir(numpy)])
'''


def test_tf_slim_imported_first_is_repaired_and_keras_3_and_numpy_are_left_alone():
  environ = {name: value for name, value in os.environ.items()
             if name != 'TF_USE_LEGACY_KERAS'}
  result = subprocess.run([sys.executable, '-c', _FRESH], capture_output=True, text=True,
                          cwd=ROOT, env=environ, timeout=300, check=True)
  lines = io.StringIO(result.stdout).read().splitlines()
  assert lines[0] == 'repaired after tf-slim loaded first: True'
  assert lines[1] == 'keras: keras 3'
  expected = [name for name in ('object', 'float', 'product') if name in dir(np)]
  assert lines[2] == 'numpy aliases: %s' % expected


def test_docs_list_every_shim_and_every_known_failure():
  import tf_slim_suite  # pylint: disable=g-import-not-at-top  (tests/, beside this file)
  with open(os.path.join(ROOT, 'docs', 'compat.md'), encoding='utf-8') as stream:
    text = stream.read()
  unlisted = ['%s.%s' % (shim.home.split('.')[-1], shim.name) for shim in compat.SHIMS]
  unlisted = [name for name in unlisted if name not in text]
  unlisted += [known.test for known in tf_slim_suite.KNOWN_FAILURES
               if '`%s`' % known.test not in text]
  assert not unlisted, 'docs/compat.md does not list: %s' % unlisted
