"""legacy-resnet-run (``python -m legacy_resnet.launcher.run``) runs slim-era TF1 programs
unchanged: tests/slim_era's train_image_classifier.py and eval_image_classifier.py
(written as the TF 1.15 research/slim scripts were) on TFRecord files written here, and
tiny scripts that show what a program sees. Each launch is a real subprocess, about 5 s
of TensorFlow import; the launcher's parts are also checked in this process."""

import glob
import importlib
import json
import os
import re
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import tensorflow as tf
import tf_slim
from scriptutil import ROOT
from test_architecture import project_imports

import legacy_resnet
import nets
from legacy_resnet.launcher import contrib
from legacy_resnet.launcher import run
from legacy_resnet.launcher import soft_placement
from legacy_resnet.launcher import tf1_view

SLIM_ERA = os.path.join(ROOT, 'tests', 'slim_era')
TRAIN = os.path.join(SLIM_ERA, 'train_image_classifier.py')
EVAL = os.path.join(SLIM_ERA, 'eval_image_classifier.py')
SPLITS = {'train': 16, 'validation': 8}  # what slim_era/datasets/two_colors.py declares
MODULE = [sys.executable, '-m', 'legacy_resnet.launcher.run']
CONSOLE_SCRIPT = os.path.join(os.path.dirname(sys.executable), 'legacy-resnet-run')
GPU_NOTICE = soft_placement.NOTICE % '/device:GPU:0'


def launch(command, args, cwd=ROOT):
  """Runs ``command`` (the launcher) with ``args``; returns the CompletedProcess."""
  environ = {name: value for name, value in os.environ.items() if name != 'TF_USE_LEGACY_KERAS'}
  return subprocess.run(command + [str(arg) for arg in args], cwd=cwd, env=environ,
                        capture_output=True, text=True, timeout=600)


def _bytes_feature(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _example(label, image_format, rng):
  """A reddish (label 0) or bluish (label 1) 32x32 image, PNG or JPEG encoded."""
  image = rng.integers(0, 64, (32, 32, 3), dtype=np.uint8)
  image[..., 2 * label] += 160
  encode = tf.io.encode_png if image_format == 'png' else tf.io.encode_jpeg
  return tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': _bytes_feature(encode(image).numpy()),
      'image/format': _bytes_feature(image_format.encode()),
      'image/class/label': tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
  }))


@pytest.fixture(scope='module')
def two_colors_dir(tmp_path_factory):
  """A folder with the two-colours TFRecord files; both labels in both formats."""
  folder = tmp_path_factory.mktemp('two_colors')
  rng = np.random.default_rng(0)
  for split, count in SPLITS.items():
    with tf.io.TFRecordWriter(str(folder / ('two_colors_%s_00000-of-00001.tfrecord' % split))) as out:
      for index in range(count):
        example = _example(index % 2, ('png', 'jpeg')[index // 2 % 2], rng)
        out.write(example.SerializeToString())
  return folder


def _succeeded(result):
  assert result.returncode == 0, 'exit %d\nstdout:\n%s\nstderr:\n%s' % (
      result.returncode, result.stdout[-3000:], result.stderr[-5000:])
  return result


def test_slim_era_program_trains_then_evaluates_its_checkpoint(two_colors_dir, tmp_path):
  train_dir = tmp_path / 'train'
  trained = _succeeded(launch(MODULE, [TRAIN, '--dataset_dir', two_colors_dir, '--train_dir',
                                       train_dir, '--max_number_of_steps', 3]))
  assert 'global step 3: loss = ' in trained.stderr
  assert tf.train.latest_checkpoint(str(train_dir)) == str(train_dir / 'model.ckpt-3')
  assert os.path.exists(train_dir / 'model.ckpt-3.index')
  assert glob.glob(str(train_dir / 'events.out.tfevents.*'))
  # The model is pinned to /device:GPU:0: one notice on a machine without a GPU, and
  # none of the placer's warnings for each variable it moved.
  gpus = tf.config.list_physical_devices('GPU')
  assert trained.stderr.count(GPU_NOTICE) == (0 if gpus else 1)
  assert 'colocation_graph' not in trained.stderr

  evaluated = _succeeded(launch(MODULE, [EVAL, '--dataset_dir', two_colors_dir,
                                         '--checkpoint_path', train_dir,
                                         '--eval_dir', tmp_path / 'eval']))
  assert 'Evaluating %s' % (train_dir / 'model.ckpt-3') in evaluated.stderr
  metrics = {name: float(value)
             for name, value in re.findall(r'^eval/(\w+): ([\d.]+)$', evaluated.stdout, re.M)}
  assert set(metrics) == {'Accuracy', 'tf_metrics_accuracy'}
  # slim's and tf.metrics' streaming accuracy agree, over exactly the 8 examples.
  assert metrics['Accuracy'] == metrics['tf_metrics_accuracy']
  assert (metrics['Accuracy'] * SPLITS['validation']).is_integer()
  assert GPU_NOTICE not in evaluated.stderr  # Nothing pinned in the evaluation graph.


def test_quantization_aware_training_stops_with_one_error_line(two_colors_dir, tmp_path):
  result = launch(MODULE, [TRAIN, '--dataset_dir', two_colors_dir, '--train_dir',
                           tmp_path / 'train', '--quantize_delay', 0])
  assert result.returncode == 2
  assert [line for line in result.stderr.splitlines() if line.startswith('error:')] == [
      'error: tf.contrib.quantize.create_training_graph (quantization-aware training) is not '
      'available on TensorFlow 2: tf.contrib is gone and legacy-resnet-run has no stand-in '
      'for it']
  assert 'Traceback' not in result.stderr
  assert not os.path.exists(tmp_path / 'train')


WHOAMI = '''\
import json
import sys
import sysconfig

import tensorflow as tf
import tensorflow.compat.v1 as tf_v1
from tensorflow.contrib import framework
from tensorflow.python.ops import array_ops

import nets.resnet_v2
import sibling

# Code in site-packages that imports TensorFlow now, after the launcher started.
library = {'__name__': 'a_library',
           '__file__': sysconfig.get_path('purelib') + '/a_library/__init__.py'}
exec(compile('import tensorflow as tf', library['__file__'], 'exec'), library)

tf.app.flags.DEFINE_integer('status', 0, 'The exit status.')
FLAGS = tf.app.flags.FLAGS


def pinned_sum():
  """1 + 2 on /device:GPU:0, run by a MonitoredSession (as slim.evaluation runs)."""
  with tf.Graph().as_default():
    with tf.device('/device:GPU:0'):
      total = tf.add(tf.constant(1), tf.constant(2))
    with tf.train.MonitoredSession() as session:
      return int(session.run(total))


def main(argv):
  tensorflow = sys.modules['tensorflow']
  print(json.dumps({
      'argv': sys.argv, 'main_argv': argv, 'name': __name__, 'path0': sys.path[0],
      'script_tf1': [hasattr(tf, name) for name in ('placeholder', 'Session', 'app')],
      'script_graph_mode': not tf.executing_eagerly(),
      'pinned_sum': pinned_sum(),
      'sibling_tf1': sibling.tf.placeholder is tf.placeholder,
      'script_keras': tf.keras.layers.Dense.__module__.split('.')[0],
      'compat_v1_is_tensorflows': tf_v1 is tensorflow.compat.v1,
      'contrib_framework': framework.arg_scope.__module__,
      'private_module': array_ops.__name__,
      'sys_modules_tf2': tensorflow is not tf and not hasattr(tensorflow, 'placeholder'),
      'nets_tf2': nets.resnet_v2.tf is tensorflow,
      'library_tf2': library['tf'] is tensorflow,
  }))
  return FLAGS.status


if __name__ == '__main__':
  tf.app.run()
'''


def _launcher(kind):
  if kind == 'module':
    return MODULE
  if not os.path.exists(CONSOLE_SCRIPT):
    pytest.skip('legacy-resnet-run is not installed beside %s (pip install -e .)' % sys.executable)
  return [CONSOLE_SCRIPT]


@pytest.mark.parametrize('kind', ['module', 'console script'])
def test_the_script_sees_itself_and_tensorflow_1_while_libraries_see_tensorflow_2(kind, tmp_path):
  command = _launcher(kind)
  (tmp_path / 'whoami.py').write_text(WHOAMI)
  (tmp_path / 'sibling.py').write_text('import tensorflow as tf\n')
  # The module form from the source tree with an absolute path, the command from the
  # script's folder with a relative one.
  script, cwd = ((str(tmp_path / 'whoami.py'), ROOT) if kind == 'module'
                 else ('whoami.py', tmp_path))
  result = launch(command, [script, '--status', 3, 'positional'], cwd=cwd)
  assert result.returncode == 3, result.stderr[-3000:]
  assert json.loads(result.stdout) == {
      'argv': [script, '--status', '3', 'positional'],
      'main_argv': [script, 'positional'],
      'name': '__main__',
      'path0': os.path.realpath(tmp_path),
      'script_tf1': [True, True, True],
      'script_graph_mode': True,
      'pinned_sum': 3,
      'sibling_tf1': True,
      'script_keras': 'tf_keras',
      'compat_v1_is_tensorflows': True,
      'contrib_framework': 'tf_slim.ops.arg_scope',
      'private_module': 'tensorflow.python.ops.array_ops',
      'sys_modules_tf2': True,
      'nets_tf2': True,
      'library_tf2': True,
  }


def test_an_uncaught_exception_is_the_scripts_traceback_and_status_1(tmp_path):
  script = tmp_path / 'fails.py'
  script.write_text('import tensorflow as tf\n\n\ndef build():\n  raise ValueError(tf.__name__)\n\n\n'
                    'build()\n')
  result = launch(MODULE, [script])
  assert result.returncode == 1
  lines = result.stderr.splitlines()
  start = lines.index('Traceback (most recent call last):')
  assert lines[start + 1] == '  File "%s", line 8, in <module>' % script
  assert lines[-1] == 'ValueError: tensorflow'
  assert 'runpy' not in result.stderr and 'legacy_resnet' not in result.stderr


@pytest.mark.parametrize('argv, message', [
    ([], 'error: no SCRIPT given (usage: legacy-resnet-run SCRIPT.py [FLAGS ...])'),
    (['--verbose', 'x.py'], 'error: unknown option --verbose (usage: legacy-resnet-run SCRIPT.py '
                            '[FLAGS ...])'),
    (['no_such_script.py'], 'error: cannot read SCRIPT no_such_script.py: No such file or '
                            'directory'),
    (['.'], 'error: cannot read SCRIPT .: Is a directory'),
])
def test_a_bad_command_line_is_one_error_line_and_status_2(argv, message, capsys):
  assert run.main(argv) == 2
  assert capsys.readouterr().err == message + '\n'


def test_help_says_what_the_launcher_does(capsys):
  assert run.main(['--help']) == 0
  assert capsys.readouterr().out.startswith('usage: legacy-resnet-run SCRIPT.py [FLAGS ...]\n')


def test_pyproject_console_scripts_resolve():
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as stream:
    scripts = tomllib.load(stream)['project']['scripts']
  assert scripts['legacy-resnet-run'] == 'legacy_resnet.launcher.run:main'
  for entry in scripts.values():
    module, _, function = entry.partition(':')
    assert callable(getattr(importlib.import_module(module), function)), entry


def test_contrib_stand_ins_serve_tf_slim_and_tf_compat_v1():
  framework, layers, training = (contrib.lookup([name])
                                 for name in ('framework', 'layers', 'training'))
  assert contrib.lookup(['slim']) is tf_slim
  assert contrib.lookup(['slim', 'nets', 'resnet_v1']) is sys.modules['tf_slim.nets.resnet_v1']
  assert framework.arg_scope is tf_slim.arg_scope
  assert framework.add_arg_scope is tf_slim.add_arg_scope
  assert framework.get_variables_to_restore is tf_slim.get_variables_to_restore
  assert framework.assign_from_checkpoint_fn is tf_slim.assign_from_checkpoint_fn
  assert framework.get_or_create_global_step is tf_slim.get_or_create_global_step
  assert framework.model_variable is tf_slim.model_variable
  assert framework.init_from_checkpoint is tf.compat.v1.train.init_from_checkpoint
  assert framework.nest is tf.nest
  assert layers.conv2d is tf_slim.conv2d
  assert layers.xavier_initializer is tf_slim.xavier_initializer
  assert layers.variance_scaling_initializer is tf_slim.variance_scaling_initializer
  assert layers.l2_regularizer is tf_slim.l2_regularizer
  assert training.create_train_op is tf_slim.training.create_train_op
  assert training.evaluate_once is tf_slim.train_eval.evaluate_once
  assert training.StopAfterNEvalsHook is tf_slim.train_eval.StopAfterNEvalsHook
  assert contrib.lookup(['metrics']).streaming_accuracy is tf_slim.metrics.streaming_accuracy
  assert contrib.lookup([]) is contrib.package


def test_what_tensorflow_2_lacks_imports_but_stops_when_called():
  quantize = contrib.lookup(['quantize'])
  with pytest.raises(contrib.Unavailable) as stop:
    quantize.create_eval_graph()
  assert stop.value.code == 2 and isinstance(stop.value, SystemExit)
  assert str(stop.value).startswith('tf.contrib.quantize.create_eval_graph (quantization-aware '
                                       'training) is not available on TensorFlow 2')
  for missing, name in ((contrib.lookup(['rnn', 'LSTMCell']), 'tf.contrib.rnn.LSTMCell'),
                        (contrib.lookup(['training']).HParams, 'tf.contrib.training.HParams'),
                        (contrib.lookup(['slim', 'no_such_name']), 'tf.contrib.slim.no_such_name')):
    with pytest.raises(contrib.Unavailable, match='^%s is not available' % re.escape(name)):
      missing(units=3)

  class Cell(contrib.lookup(['rnn']).RNNCell):  # A module defining this still imports.
    pass

  with pytest.raises(contrib.Unavailable, match='^tf.contrib.rnn.RNNCell is not available'):
    Cell()
  assert not hasattr(quantize, '__path__') and not hasattr(contrib.package, '__wrapped__')


def test_the_view_is_tensorflow_1_with_contrib_and_tensorflows_own_modules():
  view = tf1_view.view
  assert tf1_view.resolve('tensorflow') is view
  assert view.placeholder is tf.compat.v1.placeholder and view.app is tf.compat.v1.app
  assert view.__version__ == tf.__version__ and not hasattr(view, '__path__')
  assert tf1_view.resolve('tensorflow.contrib.slim') is tf_slim
  assert tf1_view.resolve('tensorflow.compat.v1') is tf.compat.v1
  assert tf1_view.resolve('tensorflow.train').Saver is tf.compat.v1.train.Saver
  assert tf1_view.resolve('tensorflow.python.ops') is None  # TensorFlow's own module


def test_only_the_programs_own_code_sees_the_view(tmp_path):
  assert tf1_view.is_programs({'__file__': str(tmp_path / 'train.py')})
  for library in (tf_slim, tf, json, legacy_resnet, nets):
    assert not tf1_view.is_programs({'__file__': library.__file__}), library
  assert not tf1_view.is_programs(None) and not tf1_view.is_programs({'__name__': 'x'})


def test_sessions_soft_place_a_copy_of_their_config():
  config = tf.compat.v1.ConfigProto(allow_soft_placement=False, intra_op_parallelism_threads=3)
  soft = soft_placement.soft_placing(config)
  assert soft.allow_soft_placement and soft.intra_op_parallelism_threads == 3
  assert not config.allow_soft_placement
  assert soft_placement.soft_placing(None).allow_soft_placement


def test_the_gpu_a_graph_pins_is_found():
  graph = tf.Graph()
  with graph.as_default():
    with tf.device('/device:CPU:0'):
      tf.constant(1)
    assert soft_placement.pinned_gpu(graph) is None
    with tf.device('/job:localhost/device:GPU:1'):
      tf.constant(2)
  assert soft_placement.pinned_gpu(graph) == '/job:localhost/device:GPU:1'


def test_the_placers_colocation_warnings_are_dropped_and_the_rest_kept():
  log = (b'I0000 00:00:1.5    42 mlir_graph_optimization_pass.cc:437] MLIR V1 pass\n'
         b'W0000 00:00:1.6    42 colocation_graph.cc:1216] Failed to place the graph without '
         b'changing the devices of some resources. Current candidate devices are [\n'
         b'  /job:localhost/replica:0/task:0/device:CPU:0].\n'
         b'Colocation Debug Info:\n'
         b'VariableV2: CPU \n'
         b'\n'
         b'  v (VariableV2) /device:GPU:0\n'
         b'W0000 00:00:1.7    43 local_rendezvous.cc:412] Local rendezvous is aborting\n'
         b'\t [[{{node batch/fifo_queue_enqueue}}]]\n'
         # TensorFlow 2.16's format.
         b'2026-12-04 20:57:11.820159: W tensorflow/core/common_runtime/colocation_graph.cc:1213] '
         b'Failed to place the graph without changing the devices of some resources.\n'
         b'  v (VariableV2) /device:GPU:0\n'
         b'2026-12-04 20:57:11.830000: I tensorflow/core/x.cc:1] kept\n')
  assert soft_placement.without_colocation_warnings(log) == (
      b'I0000 00:00:1.5    42 mlir_graph_optimization_pass.cc:437] MLIR V1 pass\n'
      b'W0000 00:00:1.7    43 local_rendezvous.cc:412] Local rendezvous is aborting\n'
      b'\t [[{{node batch/fifo_queue_enqueue}}]]\n'
      b'2026-12-04 20:57:11.830000: I tensorflow/core/x.cc:1] kept\n')


LAUNCHER_MODULES = {'legacy_resnet.launcher.%s' % name
                    for name in ('run', 'tf1_view', 'contrib', 'soft_placement')}


def _imports(name):
  """The project modules (legacy_resnet, nets, the two programs) that module ``name``'s
  source imports."""
  base = os.path.join(ROOT, *name.split('.'))
  path = base + '.py' if os.path.exists(base + '.py') else os.path.join(base, '__init__.py')
  for found in project_imports(path):
    yield found if os.path.exists(os.path.join(ROOT, *found.split('.')) + '.py') else (
        found.rsplit('.', 1)[0])


def test_the_projects_programs_do_not_load_the_launcher():
  loaded, pending = set(), ['train_graph', 'eval_graph']
  while pending:
    name = pending.pop()
    if name not in loaded:
      loaded.add(name)
      pending.extend(_imports(name))
  assert 'legacy_resnet.programs.train_cli' in loaded and 'legacy_resnet.programs.eval_cli' in loaded
  assert not loaded & LAUNCHER_MODULES
