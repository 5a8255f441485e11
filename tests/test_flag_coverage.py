"""Every flag of train_graph.py and eval_graph.py reaches what it names.

``FLAG_CHECKS`` maps each flag to the test that shows its effect: on the graph, an
optimizer hyper-parameter, the learning-rate schedule, a saver, the session config or
the files written. ``test_every_flag_has_a_check`` fails for a flag without an entry,
so a flag added later cannot be ignored silently. Registering a flag is one line:

    'train_graph.py --my_flag': 'test_file.py::test_that_shows_it',

(``HERE + 'test_name'`` for a test in this file)

and the named test must exist and mention the flag.
"""

import ast
import math
import os

import netutil
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import ROOT
from scriptutil import read_json

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import batching
from legacy_resnet.data import datasets
from legacy_resnet.data import signs_data
from legacy_resnet.data import synthetic_signs
from legacy_resnet.core import cli
from legacy_resnet.core import compat
from legacy_resnet.core import sessions
from legacy_resnet.programs import eval_cli
from legacy_resnet.programs import train_cli
from legacy_resnet.scale_out import cluster
from legacy_resnet.scale_out import distributed
from legacy_resnet.settings import derived
from legacy_resnet.train import training

pytestmark = netutil.QUIET

HERE = 'test_flag_coverage.py::'  # Tests in this file.
PIPELINE_FLAGS = (
    'test_input_pipeline.py::test_flags_make_the_pipeline_and_eval_size_defaults_to_train_size')
PHOTO = 'test_photo_recipe.py::'
PHOTO_FLAG = PHOTO + 'test_each_photo_flag_alone_changes_a_batch_the_same_way_for_the_same_step'
WATCH = ('test_shared_train_dir.py::'
         'test_watch_evaluates_each_checkpoint_once_and_stops_when_training_ends')

FLAG_CHECKS = {
    'train_graph.py --dataset_dir': HERE + 'test_a_short_run_writes_what_its_flags_say',
    'train_graph.py --train_dir': HERE + 'test_a_short_run_writes_what_its_flags_say',
    'train_graph.py --validation_split':
        HERE + 'test_validation_split_chooses_best_before_the_test_file_is_opened',
    'train_graph.py --model_name': HERE + 'test_a_short_run_writes_what_its_flags_say',
    'train_graph.py --batch_size': HERE + 'test_batches_follow_the_seed_and_batch_size',
    'train_graph.py --num_epochs': HERE + 'test_a_short_run_writes_what_its_flags_say',
    'train_graph.py --max_number_of_steps':
        'test_train_eval.py::test_rerun_resumes_from_latest_checkpoint',
    'train_graph.py --optimizer': HERE + 'test_optimizer_hyper_parameters',
    'train_graph.py --learning_rate': HERE + 'test_learning_rate_schedule',
    'train_graph.py --learning_rate_decay_type': HERE + 'test_learning_rate_schedule',
    'train_graph.py --warmup_epochs': HERE + 'test_learning_rate_schedule',
    'train_graph.py --learning_rate_decay_factor': HERE + 'test_learning_rate_schedule',
    'train_graph.py --num_epochs_per_decay': HERE + 'test_learning_rate_schedule',
    'train_graph.py --end_learning_rate': HERE + 'test_learning_rate_schedule',
    'train_graph.py --momentum': HERE + 'test_optimizer_hyper_parameters',
    'train_graph.py --adam_beta1': HERE + 'test_a_short_run_writes_what_its_flags_say',
    'train_graph.py --adam_beta2': HERE + 'test_a_short_run_writes_what_its_flags_say',
    'train_graph.py --opt_epsilon': HERE + 'test_optimizer_hyper_parameters',
    'train_graph.py --rmsprop_decay': HERE + 'test_optimizer_hyper_parameters',
    'train_graph.py --rmsprop_momentum': HERE + 'test_optimizer_hyper_parameters',
    'train_graph.py --weight_decay': HERE + 'test_regularization_and_batch_norm_flags',
    'train_graph.py --batch_norm_decay': HERE + 'test_regularization_and_batch_norm_flags',
    'train_graph.py --moving_average_decay':
        'test_train_eval.py::test_moving_average_weights_are_restored_for_evaluation',
    'train_graph.py --label_smoothing': HERE + 'test_label_smoothing',
    'train_graph.py --zero_init_residual': HERE + 'test_zero_init_residual',
    'train_graph.py --random_shift': HERE + 'test_augmentation_flags',
    'train_graph.py --horizontal_flip': HERE + 'test_augmentation_flags',
    'train_graph.py --random_brightness': HERE + 'test_augmentation_flags',
    'train_graph.py --random_contrast': HERE + 'test_augmentation_flags',
    'train_graph.py --seed': HERE + 'test_batches_follow_the_seed_and_batch_size',
    'train_graph.py --augmentation': PHOTO + 'test_augmentation_presets',
    'train_graph.py --random_crop_scale': PHOTO_FLAG,
    'train_graph.py --random_rotation': PHOTO_FLAG,
    'train_graph.py --photo_fraction': (
        PHOTO + 'test_photo_fraction_transforms_that_share_of_the_images_and_leaves_the_rest'),
    'train_graph.py --random_hue': PHOTO_FLAG,
    'train_graph.py --random_saturation': PHOTO_FLAG,
    'train_graph.py --random_white_balance': PHOTO_FLAG,
    'train_graph.py --random_blur': PHOTO_FLAG,
    'train_graph.py --random_noise': PHOTO_FLAG,
    'train_graph.py --save_every_n_steps': HERE + 'test_a_short_run_writes_what_its_flags_say',
    'train_graph.py --save_interval_secs': HERE + 'test_save_interval_secs',
    'train_graph.py --max_to_keep': HERE + 'test_a_short_run_writes_what_its_flags_say',
    'train_graph.py --checkpoint_path': HERE + 'test_warm_start_flags',
    'train_graph.py --checkpoint_exclude_scopes':
        'test_fine_tune.py::test_fine_tune_restores_zoo_weights_and_freezes_scopes',
    'train_graph.py --ignore_missing_vars': HERE + 'test_warm_start_flags',
    'train_graph.py --trainable_scopes':
        'test_fine_tune.py::test_fine_tune_restores_zoo_weights_and_freezes_scopes',
    'train_graph.py --log_every_n_steps': HERE + 'test_a_short_run_writes_what_its_flags_say',
    'train_graph.py --num_intra_threads': HERE + 'test_session_config_flags',
    'train_graph.py --num_inter_threads': HERE + 'test_session_config_flags',
    'train_graph.py --num_clones':
        'test_replication.py::test_train_graph_with_two_cpu_clones_writes_a_checkpoint_eval_restores',
    'train_graph.py --clone_on_cpu':
        'test_replication.py::test_train_graph_with_two_cpu_clones_writes_a_checkpoint_eval_restores',
    'train_graph.py --xla': HERE + 'test_session_config_flags',
    'train_graph.py --verbose': HERE + 'test_verbose_shows_tensorflow_warnings',
    'train_graph.py --ps_hosts': HERE + 'test_cluster_flags',
    'train_graph.py --worker_hosts': HERE + 'test_cluster_flags',
    'train_graph.py --job_name': HERE + 'test_cluster_flags',
    'train_graph.py --task_index': HERE + 'test_cluster_flags',
    'train_graph.py --sync_replicas': HERE + 'test_cluster_flags',
    'train_graph.py --replicas_to_aggregate': HERE + 'test_cluster_flags',
    'train_graph.py --ps_timeout_secs':
        'test_distributed.py::test_a_ps_whose_workers_never_come_gives_up_after_its_time_limit',
    'eval_graph.py --checkpoint_path':
        'test_train_eval.py::test_eval_reproduces_in_session_accuracy_and_loss',
    'eval_graph.py --dataset_dir': HERE + 'test_eval_dataset_dir_and_image_size',
    'eval_graph.py --dataset_file':
        'test_train_eval.py::test_eval_of_a_dataset_file_with_train_keys',
    'eval_graph.py --images': 'test_train_eval.py::test_predictions_for_image_files',
    'eval_graph.py --top_k': 'test_train_eval.py::test_predictions_for_image_files',
    'eval_graph.py --report':
        'test_train_eval.py::test_eval_reproduces_in_session_accuracy_and_loss',
    'eval_graph.py --dense_features': 'test_train_eval.py::test_dense_features_on_the_dataset',
    'eval_graph.py --output_stride': 'test_train_eval.py::test_dense_features_on_the_dataset',
    'eval_graph.py --image_size': HERE + 'test_eval_dataset_dir_and_image_size',
    'eval_graph.py --export_dir': 'test_export.py::test_exported_models_match_eval_graph',
    'eval_graph.py --verbose': HERE + 'test_verbose_shows_tensorflow_warnings',
    'train_graph.py --preprocessing_name': PIPELINE_FLAGS,
    'train_graph.py --train_image_size': PIPELINE_FLAGS,
    'train_graph.py --eval_image_size': PIPELINE_FLAGS,
    'train_graph.py --labels_offset': PIPELINE_FLAGS,
    'eval_graph.py --multi_grid': 'test_input_pipeline.py::test_dense_features_with_multi_grid',
    'eval_graph.py --plots': 'test_pictures.py::test_plots_flag_makes_its_folder',
    'eval_graph.py --heatmaps': 'test_pictures.py::test_heatmap_peaks_lie_in_the_hand_boxes',
    'eval_graph.py --runtime':
        'test_serving.py::test_eval_graph_runtime_gives_tensorflow_results',
    'train_graph.py --precision': 'test_precision.py::test_checkpoints_restore_across_precisions',
    'eval_graph.py --precision': 'test_precision.py::test_checkpoints_restore_across_precisions',
    'eval_graph.py --watch': WATCH,
    'eval_graph.py --watch_timeout': WATCH,
    'eval_graph.py --split': WATCH,
}

PARSERS = {'train_graph.py': train_cli.parser, 'eval_graph.py': eval_cli.parser}


def parser_flags():
  """'script --flag' for every flag of both parsers (a --no-x form belongs to --x)."""
  flags = set()
  for script, parser in PARSERS.items():
    for action in parser()._actions:  # pylint: disable=protected-access
      if action.option_strings and action.option_strings[0] != '-h':
        flags.add('%s %s' % (script, action.option_strings[0]))
  return flags


def _test_source(reference):
  """The source of test ``file.py::name`` with its decorators, or None."""
  filename, name = reference.split('::')
  path = os.path.join(ROOT, 'tests', filename)
  if not os.path.exists(path):
    return None
  with open(path, encoding='utf-8') as stream:
    source = stream.read()
  for node in ast.parse(source).body:
    if isinstance(node, ast.FunctionDef) and node.name == name:
      return ''.join(ast.get_source_segment(source, part)
                     for part in node.decorator_list + [node])
  return None


def test_every_flag_has_a_check():
  unchecked = sorted(parser_flags() - set(FLAG_CHECKS))
  assert not unchecked, (
      'flags without a check that they do what they say: %s; add a test and a line '
      "'<script> --<flag>': '<test file>::<test>' to FLAG_CHECKS in tests/test_flag_coverage.py"
      % ', '.join(unchecked))
  gone = sorted(set(FLAG_CHECKS) - parser_flags())
  assert not gone, 'FLAG_CHECKS names flags the parsers no longer have: %s' % ', '.join(gone)


@pytest.mark.parametrize('flag', sorted(FLAG_CHECKS))
def test_each_check_exists_and_uses_its_flag(flag):
  reference = FLAG_CHECKS[flag]
  source = _test_source(reference)
  assert source is not None, '%s: no test %s' % (flag, reference)
  name = flag.split()[1]
  assert "'%s'" % name in source or "'--no-%s'" % name[2:] in source, (
      '%s: %s does not pass the flag' % (flag, reference))


# In-process trainers, built on demand and shared by the checks below.

SMALL = ['--model_name', 'resnet_v1_18', '--batch_size', '20']
MOMENTUM_RUN = SMALL + [
    '--optimizer', 'momentum', '--momentum', '0.5', '--learning_rate', '0.2',
    '--learning_rate_decay_type', 'exponential', '--learning_rate_decay_factor', '0.5',
    '--num_epochs_per_decay', '1', '--warmup_epochs', '1', '--num_epochs', '3',
    '--weight_decay', '0.003', '--batch_norm_decay', '0.8', '--label_smoothing', '0.2',
    '--no-zero_init_residual', '--num_intra_threads', '1', '--num_inter_threads', '2',
    '--random_shift', '0', '--no-horizontal_flip', '--random_brightness', '0',
    '--random_contrast', '0', '--seed', '3', '--checkpoint_path', '{partial}',
    '--ignore_missing_vars']
RMSPROP_RUN = SMALL + [
    '--optimizer', 'rmsprop', '--rmsprop_decay', '0.7', '--rmsprop_momentum', '0.3',
    '--opt_epsilon', '0.02', '--learning_rate', '0.3', '--learning_rate_decay_type', 'fixed',
    '--warmup_epochs', '0', '--max_number_of_steps', '2', '--save_interval_secs', '0']
ADAM_RUN = SMALL + [
    '--optimizer', 'adam', '--adam_beta1', '0.5', '--adam_beta2', '0.6', '--opt_epsilon', '0.01',
    '--learning_rate', '0.2', '--learning_rate_decay_type', 'cosine', '--end_learning_rate',
    '0.05', '--warmup_epochs', '0', '--num_epochs', '1', '--save_every_n_steps', '2',
    '--max_to_keep', '1', '--log_every_n_steps', '2']


PARTIAL_CHECKPOINT_VALUES = np.random.default_rng(0).random([7, 7, 3, 64]).astype(np.float32)


def _partial_checkpoint(folder):
  """A checkpoint with only resnet_v1_18/conv1/weights (PARTIAL_CHECKPOINT_VALUES)."""
  with tf.Graph().as_default():
    weights = tf.compat.v1.get_variable('resnet_v1_18/conv1/weights',
                                        initializer=PARTIAL_CHECKPOINT_VALUES)
    with tf.compat.v1.Session() as session:
      session.run(weights.initializer)
      return tf.compat.v1.train.Saver([weights]).save(session, os.path.join(folder, 'part'))


def _settings(argv):
  return train_cli.settings_of(argv)


@pytest.fixture(scope='module')
def trainers(signs_dir, tmp_path_factory):
  """A function from a run's flags to its (unstarted) Trainer, built once per module;
  '{partial}' in the flags stands for a checkpoint with one of the variables."""
  built = {}
  partial = _partial_checkpoint(str(tmp_path_factory.mktemp('partial')))

  def trainer(run):
    key = tuple(run)
    if key not in built:
      train_dir = str(tmp_path_factory.mktemp('trainer'))
      settings = _settings(['--dataset_dir', signs_dir, '--train_dir', train_dir] +
                           [arg.format(partial=partial) for arg in run])
      data = datasets.training_data(settings.data.dataset_dir)
      built[key] = training.Trainer(settings, data, training.run_metadata(settings, data))
    return built[key]

  yield trainer
  for each in built.values():
    each.close()


def _value(trainer, fetches, feed=None):
  with trainer.graph.as_default():
    return trainer.session.run(fetches, feed)


def _initialized(trainer):
  """``trainer`` with its variables (re)initialized, warm start included."""
  with trainer.graph.as_default():
    trainer.restore_or_initialize(lambda text: None)
  return trainer


def _trained(trainer, on_step=None):
  """``trainer`` once it has run (only the first call runs it)."""
  if trainer.last_saved_step is None:
    with trainer.graph.as_default():
      trainer.run(on_step=on_step)
  return trainer


def _optimizer_inputs(trainer, op_type):
  """{input name without its scope: value} of the first ``op_type`` op, for the inputs
  that are hyper-parameters (neither a variable nor a gradient)."""
  operation = next(op for op in trainer.graph.get_operations() if op.type == op_type)
  values = {}
  for tensor in operation.inputs:
    if tensor.dtype != tf.resource and tensor.op.type in ('Const', 'Identity', 'Cast'):
      name = tensor.op.name.split('/')[-1]
      if name not in ('learning_rate',) and not name.startswith('Identity'):
        values[name] = _value(trainer, tensor)
  return values


@pytest.mark.parametrize('run,op_type,expected', [
    (MOMENTUM_RUN, 'ResourceApplyMomentum', {'momentum': 0.5}),
    (RMSPROP_RUN, 'ResourceApplyRMSProp', {'decay': 0.7, 'momentum': 0.3, 'epsilon': 0.02}),
    (ADAM_RUN, 'ResourceApplyAdam', {'beta1': 0.5, 'beta2': 0.6, 'epsilon': 0.01}),
])
def test_optimizer_hyper_parameters(trainers, run, op_type, expected):
  """'--optimizer' picks the update op; its flags are the op's inputs ('--momentum',
  '--rmsprop_decay', '--rmsprop_momentum', '--opt_epsilon' in the runs above)."""
  found = _optimizer_inputs(trainers(run), op_type)
  assert found == pytest.approx(expected)


@pytest.mark.parametrize('run,rates', [
    # 3 steps per epoch: a 1-epoch warm-up, then halved every epoch.
    (MOMENTUM_RUN, {0: 0.2 / 3, 2: 0.2, 3: 0.2, 6: 0.1, 9: 0.05}),
    (RMSPROP_RUN, {0: 0.3, 5: 0.3}),
    (ADAM_RUN, {0: 0.2, 3: 0.05}),  # Half a cosine over the 3 steps of --num_epochs 1.
])
def test_learning_rate_schedule(trainers, run, rates):
  """'--learning_rate', '--learning_rate_decay_type', '--warmup_epochs',
  '--learning_rate_decay_factor', '--num_epochs_per_decay', '--end_learning_rate'."""
  trainer = trainers(run)
  found = {}
  step_value = trainer.tensors.global_step.initializer.inputs[1]
  for step in rates:
    _value(trainer, trainer.tensors.global_step.initializer, {step_value: step})
    found[step] = _value(trainer, trainer.tensors.learning_rate)
  assert found == pytest.approx(rates)


def test_regularization_and_batch_norm_flags(trainers):
  """'--weight_decay' scales every L2 loss; '--batch_norm_decay' is each moving
  statistic's decay (an update moves it by 1 - decay of the way)."""
  graph = trainers(MOMENTUM_RUN).graph
  scales = [op.outputs[0] for op in graph.get_operations()
            if op.name.endswith('l2_regularizer/scale')]
  steps = [op.outputs[0] for op in graph.get_operations()
           if op.name.endswith('AssignMovingAvg/sub')]
  assert scales and steps
  assert _value(trainers(MOMENTUM_RUN), scales) == pytest.approx([0.003] * len(scales))
  assert _value(trainers(MOMENTUM_RUN), steps) == pytest.approx([0.2] * len(steps))


def test_label_smoothing(trainers):
  """'--label_smoothing' 0.2 mixes 0.2 of a uniform distribution into the targets."""
  trainer = _initialized(trainers(MOMENTUM_RUN))
  images, labels = trainer.batch(0)
  logits, cross_entropy = _value(
      trainer, [trainer.tensors.model.logits, trainer.tensors.cross_entropy],
      {trainer.tensors.model.images: images, trainer.tensors.model.labels: labels})
  targets = np.eye(6)[labels] * 0.8 + 0.2 / 6
  log_softmax = logits - np.log(np.sum(np.exp(logits), 1, keepdims=True))
  assert cross_entropy == pytest.approx(-np.mean(np.sum(targets * log_softmax, 1)), rel=1e-4)


def _residual_gammas(trainer):
  return [v for name, v in trainer.saved_variables.items()
          if name.endswith('basic_v1/conv2/BatchNorm/gamma')]


@pytest.mark.parametrize('run,value', [(MOMENTUM_RUN, 1.0), (ADAM_RUN, 0.0)])
def test_zero_init_residual(trainers, run, value):
  """'--no-zero_init_residual' leaves the residual branches' last scales at one."""
  trainer = _initialized(trainers(run))
  gammas = _value(trainer, _residual_gammas(trainer))
  assert len(gammas) == 8
  assert all(np.all(gamma == value) for gamma in gammas)


def test_augmentation_flags(trainers, signs_dir):
  """Each of '--random_shift', '--horizontal_flip', '--random_brightness',
  '--random_contrast' alone changes a batch; all off, the trainer's batch is the raw
  images."""
  trainer = trainers(MOMENTUM_RUN)
  images, _ = trainer.batch(0)
  indices = batching.batch_indices(60, 20, 3, 0)
  np.testing.assert_array_equal(images, trainer.data.train.images[indices])
  off = ['--random_shift', '0', '--no-horizontal_flip', '--random_brightness', '0',
         '--random_contrast', '0']
  raw = trainer.data.train.images[:8]
  for flag in (['--random_shift', '4'], ['--horizontal_flip'], ['--random_brightness', '0.3'],
               ['--random_contrast', '0.3']):
    settings = _settings(off + flag)
    augmented = batching.augment(raw, derived.augmentation(settings.input),
                                 np.random.default_rng(0))
    assert not np.array_equal(augmented, raw), flag
  assert derived.augmentation(_settings(off).input) == batching.NO_AUGMENTATION


def test_batches_follow_the_seed_and_batch_size(trainers):
  """'--seed' seeds the graph and picks the batches; '--batch_size' is their size."""
  seeded, default = trainers(MOMENTUM_RUN), trainers(ADAM_RUN)
  assert (seeded.graph.seed, default.graph.seed) == (3, 0)
  assert len(seeded.batch(0)[1]) == 20
  assert not np.array_equal(seeded.batch(0)[1], default.batch(0)[1])


def test_session_config_flags(trainers, monkeypatch):
  """'--num_intra_threads', '--num_inter_threads' and '--xla' set the session config."""
  config = trainers(MOMENTUM_RUN).session_config
  assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (1, 2)
  assert config.graph_options.optimizer_options.global_jit_level == 0
  from tensorflow.python.client import pywrap_tf_session  # pylint: disable=g-direct-tensorflow-import
  switched = []  # Switching XLA on for real would slow every later session here.
  monkeypatch.setattr(pywrap_tf_session, 'TF_SetTfXlaCpuGlobalJit', switched.append)
  config = derived.session_config(_settings(['--xla']).run)
  assert config.graph_options.optimizer_options.global_jit_level == (
      tf.compat.v1.OptimizerOptions.ON_1)
  assert switched == ([] if sessions.gpus() else [True])


def test_save_interval_secs(trainers):
  """'--save_interval_secs' 0 saves after every step (here step 1 of 2, before the
  end-of-run save)."""
  trainer = _trained(trainers(RMSPROP_RUN))
  listed = checkpoints.listed_checkpoints(trainer.settings.run.train_dir)
  assert [checkpoints.global_step(prefix) for prefix in listed] == [1, 2]


def test_warm_start_flags(trainers):
  """'--checkpoint_path' fills the variables it has; '--ignore_missing_vars' lets the
  others be initialized."""
  trainer = _initialized(trainers(MOMENTUM_RUN))
  restored = _value(trainer, trainer.saved_variables['resnet_v1_18/conv1/weights'])
  np.testing.assert_array_equal(restored, PARTIAL_CHECKPOINT_VALUES)
  assert trainer.warm_start[2].missing


def _summary_steps(train_dir, tag):
  steps = []
  for name in os.listdir(train_dir):
    if name.startswith('events.out.tfevents'):
      for event in tf.compat.v1.train.summary_iterator(os.path.join(train_dir, name)):
        if any(value.tag == tag for value in event.summary.value):
          steps.append(event.step)
  return sorted(steps)


def test_a_short_run_writes_what_its_flags_say(trainers, signs_dir):
  """'--num_epochs' 1 is 3 steps of '--batch_size' 20 on the 60 images of
  '--dataset_dir'; '--adam_beta1' and '--adam_beta2' are the decay of the checkpoint's
  beta powers; '--save_every_n_steps', '--max_to_keep' and '--log_every_n_steps' shape
  what '--train_dir' holds for '--model_name'."""
  trainer = trainers(ADAM_RUN)
  train_dir = trainer.settings.run.train_dir
  listed = []
  _trained(trainer, on_step=lambda step, loss, accuracy: listed.append(
      [checkpoints.global_step(prefix) for prefix in checkpoints.listed_checkpoints(train_dir)]))
  assert listed == [[], [], [2]]  # Before each step's own save.
  newest = checkpoints.listed_checkpoints(train_dir)
  assert [checkpoints.global_step(prefix) for prefix in newest] == [3]
  reader = tf.train.load_checkpoint(newest[0])
  assert reader.get_tensor('beta1_power') == pytest.approx(0.5 ** 4)
  assert reader.get_tensor('beta2_power') == pytest.approx(0.6 ** 4)
  assert reader.has_tensor('resnet_v1_18/logits/weights')
  assert _summary_steps(train_dir, 'cross_entropy') == [2]
  metadata = checkpoints.read_metadata(newest[0])
  assert metadata['dataset']['dataset_dir'] == os.path.abspath(signs_dir)


def test_verbose_shows_tensorflow_warnings():
  """'--verbose' (both scripts, through cli.run) stops hiding TensorFlow's warnings."""
  seen = []

  def probe(argv):
    del argv
    seen.append(list(tf.get_logger().filters))

  cli.run(probe, ['--verbose'])
  cli.run(probe, [])
  assert compat._deprecation_filter not in seen[0]  # pylint: disable=protected-access
  assert compat._deprecation_filter in seen[1]  # pylint: disable=protected-access


def test_eval_dataset_dir_and_image_size(trainers, tmp_path, capsys):
  """eval_graph.py: '--dataset_dir' evaluates that folder's test file; '--image_size'
  resizes '--images' for '--dense_features'."""
  trainer = _trained(trainers(RMSPROP_RUN))
  other = tmp_path / 'other'
  synthetic_signs.write_signs_files(str(other), num_train=6, num_test=12, seed=2)
  eval_cli.main(['--checkpoint_path', trainer.settings.run.train_dir, '--dataset_dir', str(other)])
  assert 'examples 12' in capsys.readouterr().out
  image = tmp_path / 'sign.png'
  tf.io.write_file(str(image), tf.io.encode_png(np.zeros([50, 70, 3], np.uint8)))
  out = tmp_path / 'features.h5'
  eval_cli.main(['--checkpoint_path', trainer.settings.run.train_dir, '--images', str(image),
                 '--image_size', '40', '24', '--dense_features', str(out), '--output_stride',
                 '8'])
  import h5py  # pylint: disable=import-outside-toplevel
  with h5py.File(out, 'r') as features:
    assert features['features'].shape[1:3] == (math.ceil(40 / 8), math.ceil(24 / 8))


@pytest.mark.parametrize('flags,replicas', [
    ([], 2), (['--replicas_to_aggregate', '1'], 1), (['--no-sync_replicas'], 1)])
def test_cluster_flags(flags, replicas, monkeypatch):
  """'--ps_hosts', '--worker_hosts', '--job_name' and '--task_index' name this task;
  '--sync_replicas' and '--replicas_to_aggregate' set the worker batches per update."""
  monkeypatch.delenv('TF_CONFIG', raising=False)
  settings = _settings(['--ps_hosts', 'p:1', '--worker_hosts', 'c:1,w:2', '--job_name',
                        'worker', '--task_index', '1'] + flags)
  task = cluster.from_settings(settings, os.environ)
  assert (task.ps_hosts, task.worker_hosts, task.job_name, task.task_index) == (
      ['p:1'], ['c:1', 'w:2'], 'worker', 1)
  assert distributed.replicas_per_step(settings, task) == replicas


def test_validation_split_chooses_best_before_the_test_file_is_opened(signs_dir, tmp_path,
                                                                       monkeypatch, capsys):
  """'--validation_split' 0.1 holds out one of each class's ten training images for the
  per-epoch evaluations and best/; test_signs.h5 is opened only once the last
  checkpoint is saved, for the final report, labelled test."""
  train_dir = str(tmp_path / 'run')
  steps_saved_when_opened = []
  real_file = signs_data.h5py.File

  def watched_file(path, *args, **kwargs):
    if os.path.basename(str(path)) == signs_data.TEST_FILE:
      steps_saved_when_opened.append([checkpoints.global_step(prefix) for prefix in
                                      checkpoints.listed_checkpoints(train_dir)])
    return real_file(path, *args, **kwargs)

  monkeypatch.setattr(signs_data.h5py, 'File', watched_file)
  train_cli.main(['--dataset_dir', signs_dir, '--train_dir', train_dir, '--validation_split',
                  '0.1', '--num_epochs', '2'] + SMALL)  # 54 images: 2 steps per epoch.
  assert steps_saved_when_opened == [[2, 4]]
  out = capsys.readouterr().out
  assert 'epoch 2 step 4: validation accuracy' in out and 'final test accuracy' in out
  metadata = read_json(os.path.join(train_dir, checkpoints.METADATA_FILE))
  assert (metadata['best']['split'], metadata['last_eval']['split']) == ('validation',) * 2
  assert metadata['test']['split'] == 'test' and metadata['validation_split'] == 0.1
  assert os.path.isdir(os.path.join(train_dir, checkpoints.BEST_SUBDIR))
  assert _summary_steps(train_dir, 'validation/accuracy') == [2, 4]
  assert _summary_steps(train_dir, 'test/accuracy') == [4]


def test_validation_split_0_evaluates_on_the_test_file_and_says_so(signs_dir, tmp_path,
                                                                    capsys):
  """'--validation_split' 0: per-epoch evaluation and best/ on the test file, as before."""
  train_dir = str(tmp_path / 'run')
  train_cli.main(['--dataset_dir', signs_dir, '--train_dir', train_dir, '--validation_split',
                  '0', '--max_number_of_steps', '1'] + SMALL)
  assert 'per-epoch evaluation and best/ use the test split' in capsys.readouterr().out
  metadata = read_json(os.path.join(train_dir, checkpoints.METADATA_FILE))
  assert metadata['best']['split'] == 'test' and metadata['test'] == metadata['last_eval']
