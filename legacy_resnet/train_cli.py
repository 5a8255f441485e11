"""Flags and entry point of ``train_graph.py``. Flag names follow tensorflow/models'
slim ``train_image_classifier.py`` wherever the concept is the same."""

import argparse
import contextlib
import dataclasses
import os

from legacy_resnet import cli
from legacy_resnet import cluster
from legacy_resnet import datasets
from legacy_resnet import distributed
from legacy_resnet import optimization
from legacy_resnet import precision
from legacy_resnet import preprocessing
from legacy_resnet import settings as run_settings
from legacy_resnet import training
from legacy_resnet import train_dir_lock
from legacy_resnet import training_curves
from legacy_resnet.errors import UsageError
from nets import nets_factory

DEFAULT_TRAIN_DIR = os.path.join('runs', 'train')
# Flags that act on the command line itself and reach no setting (cli.run reads it).
COMMAND_LINE_ONLY = ('verbose',)


def parser():
  p = cli.ArgumentParser(
      prog='train_graph.py',
      description='Train a ResNet on SIGNS-format data with a tf.compat.v1 graph.')
  data = p.add_argument_group('data and model')
  data.add_argument('--dataset_dir', help='folder with train_signs.h5 and test_signs.h5 '
                    '(default: the embedded synthetic hand-sign set)')
  data.add_argument('--train_dir', default=DEFAULT_TRAIN_DIR,
                    help='checkpoints, metadata and TensorBoard logs (default: %(default)s); '
                    'rerunning with the same folder resumes')
  data.add_argument('--validation_split', type=cli.fraction, default=0.1,
                    help='fraction of each class of the training file held out for the '
                    'per-epoch evaluation and the best/ checkpoint; the test file is read '
                    'only for a final report (0: evaluate and choose best/ on the test '
                    'file, as before; default: %(default)s)')
  data.add_argument('--model_name', default='resnet_v1_50',
                    choices=sorted(nets_factory.networks_map), metavar='MODEL_NAME',
                    help='%s (default: %%(default)s)' % ', '.join(sorted(nets_factory.networks_map)))

  prep = p.add_argument_group(
      'preprocessing (recorded with the run; eval_graph.py applies it too)')
  prep.add_argument('--preprocessing_name', default='signs',
                    choices=preprocessing.PREPROCESSING_NAMES,
                    help='signs: pixels in [0, 1]; vgg: [0, 255] minus the ImageNet means '
                    '(slim resnet_v1 checkpoints); inception: central crop, [-1, 1] (slim '
                    'resnet_v2 checkpoints) (default: %(default)s)')
  prep.add_argument('--train_image_size', type=cli.positive_int,
                    help='network input side when training, e.g. 224 for a zoo checkpoint '
                    '(default: the images\' own size)')
  prep.add_argument('--eval_image_size', type=cli.positive_int,
                    help='network input side when evaluating (default: --train_image_size)')
  prep.add_argument('--labels_offset', type=cli.non_negative_int, default=0,
                    help='logits before the first class, dropped: 1 for slim\'s 1001-class '
                    'checkpoints (background first) (default: %(default)s)')

  run = p.add_argument_group('length')
  run.add_argument('--batch_size', type=cli.positive_int, default=32,
                   help='images per training step (default: %(default)s)')
  # 16 epochs at a learning rate of 3e-3 keep the default job within 12 minutes on a
  # 2-core AVX2-only CPU (bench/README.md, "The default recipe").
  run.add_argument('--num_epochs', type=cli.non_negative_float, default=16.0,
                   help='passes over the training split (default: %(default)s)')
  run.add_argument('--max_number_of_steps', type=cli.positive_int,
                   help='total steps; overrides --num_epochs')

  opt = p.add_argument_group('optimization')
  opt.add_argument('--optimizer', default='adam', choices=optimization.OPTIMIZERS,
                   help='(default: %(default)s)')
  opt.add_argument('--learning_rate', type=cli.non_negative_float, default=3e-3,
                   help='rate after the warm-up (default: %(default)s)')
  opt.add_argument('--learning_rate_decay_type', default='cosine',
                   choices=optimization.DECAY_TYPES, help='(default: %(default)s)')
  opt.add_argument('--warmup_epochs', type=cli.non_negative_float, default=1.0,
                   help='linear learning-rate warm-up (default: %(default)s)')
  opt.add_argument('--learning_rate_decay_factor', type=cli.non_negative_float, default=0.94,
                   help='exponential decay: the rate is multiplied by this every '
                   '--num_epochs_per_decay epochs (default: %(default)s)')
  opt.add_argument('--num_epochs_per_decay', type=cli.non_negative_float, default=2.0,
                   help='exponential decay: epochs between decays (default: %(default)s)')
  opt.add_argument('--end_learning_rate', type=cli.non_negative_float, default=0.0,
                   help='cosine decay: the rate at the last step (default: %(default)s)')
  opt.add_argument('--momentum', type=cli.non_negative_float, default=0.9,
                   help='--optimizer momentum: its momentum (default: %(default)s)')
  opt.add_argument('--adam_beta1', type=cli.fraction, default=0.9,
                   help='--optimizer adam: decay of the first moment (default: %(default)s)')
  opt.add_argument('--adam_beta2', type=cli.fraction, default=0.999,
                   help='--optimizer adam: decay of the second moment '
                   '(default: %(default)s)')
  opt.add_argument('--opt_epsilon', type=cli.non_negative_float, default=1e-8,
                   help='--optimizer adam or rmsprop: epsilon of the update\'s denominator '
                   '(default: %(default)s)')
  opt.add_argument('--rmsprop_decay', type=cli.fraction, default=0.9,
                   help='--optimizer rmsprop: decay of the squared-gradient average '
                   '(default: %(default)s)')
  opt.add_argument('--rmsprop_momentum', type=cli.non_negative_float, default=0.9,
                   help='--optimizer rmsprop: its momentum (default: %(default)s)')
  opt.add_argument('--weight_decay', type=cli.non_negative_float, default=1e-4,
                   help='L2 regularization of the weights (default: %(default)s)')
  opt.add_argument('--batch_norm_decay', type=cli.fraction, default=0.9,
                   help='batch-norm moving-statistics decay; 0.9 converges in a few dozen '
                   'steps, 0.997 (slim\'s default) needs thousands (default: %(default)s)')
  opt.add_argument('--moving_average_decay', type=cli.fraction,
                   help='keep an exponential moving average of the weights (e.g. 0.999) '
                   'and evaluate with it')
  opt.add_argument('--label_smoothing', type=cli.fraction, default=0.0,
                   help='mix this much of a uniform distribution into the targets '
                   '(default: %(default)s)')
  opt.add_argument('--zero_init_residual', action=argparse.BooleanOptionalAction, default=True,
                   help='start every residual branch\'s last batch-norm scale at zero '
                   '(default: %(default)s)')

  aug = p.add_argument_group('augmentation')
  aug.add_argument('--random_shift', type=cli.non_negative_int, default=4,
                   help='random shift of up to this many pixels (0: off)')
  aug.add_argument('--horizontal_flip', action=argparse.BooleanOptionalAction, default=True,
                   help='flip half the images left to right (default: %(default)s)')
  aug.add_argument('--random_brightness', type=cli.non_negative_float, default=0.1,
                   help='add a random offset of up to this much (0: off; default: '
                   '%(default)s)')
  aug.add_argument('--random_contrast', type=cli.non_negative_float, default=0.1,
                   help='scale the contrast by up to 1 +- this (0: off; default: '
                   '%(default)s)')
  aug.add_argument('--seed', type=cli.non_negative_int, default=0,
                   help='same seed, same CPU run, same losses and validation split '
                   '(default: %(default)s)')

  ckpt = p.add_argument_group('checkpoints')
  ckpt.add_argument('--save_every_n_steps', type=cli.non_negative_int, default=0,
                    help='also save every N steps (checkpoints are always saved after '
                    'each epoch)')
  ckpt.add_argument('--save_interval_secs', type=cli.non_negative_float, default=600.0,
                    help='also save when this many seconds passed since the last save '
                    '(default: %(default)s)')
  ckpt.add_argument('--max_to_keep', type=cli.positive_int, default=5,
                    help='latest checkpoints kept (default: %(default)s)')
  ckpt.add_argument('--checkpoint_path',
                    help='warm-start from this checkpoint when --train_dir has none')
  ckpt.add_argument('--checkpoint_exclude_scopes', type=cli.comma_list, default=[],
                    help='comma-separated scopes not restored from --checkpoint_path')
  ckpt.add_argument('--ignore_missing_vars', action='store_true',
                    help='initialize the variables --checkpoint_path lacks instead of '
                    'refusing it')
  ckpt.add_argument('--trainable_scopes', type=cli.comma_list, default=[],
                    help='comma-separated scopes to train; the rest stay frozen')

  system = p.add_argument_group('system')
  system.add_argument('--log_every_n_steps', type=cli.positive_int, default=10,
                      help='TensorBoard summary interval in steps (default: %(default)s)')
  system.add_argument('--num_intra_threads', type=cli.non_negative_int, default=0,
                      help='threads inside one op (0: TensorFlow chooses)')
  system.add_argument('--num_inter_threads', type=cli.non_negative_int, default=0,
                      help='ops run at once (0: TensorFlow chooses)')
  system.add_argument('--num_clones', type=cli.positive_int, default=1,
                      help='replicate the model over this many GPUs (or logical CPUs with '
                      '--clone_on_cpu); --batch_size is split over them (default: %(default)s)')
  system.add_argument('--clone_on_cpu', action='store_true',
                      help='place the clones on logical CPU devices')
  system.add_argument('--xla', action=argparse.BooleanOptionalAction, default=False,
                      help='XLA just-in-time compilation')
  system.add_argument('--precision', default=precision.DEFAULT, choices=precision.PRECISIONS,
                      help='number format of the network\'s computation; variables, '
                      'batch-norm statistics, the loss and checkpoints stay float32. '
                      'bfloat16: CPUs with AVX512-BF16 or AMX only (refused elsewhere, '
                      'never emulated); float16: GPUs only, with dynamic loss scaling '
                      '(default: %(default)s)')
  system.add_argument('--verbose', action='store_true', help='show TensorFlow warnings')

  dist = p.add_argument_group(
      'parameter-server cluster (or the TF_CONFIG environment variable; not both)')
  dist.add_argument('--ps_hosts', help='comma-separated host:port of the parameter servers')
  dist.add_argument('--worker_hosts', help='comma-separated host:port of the workers; '
                    'worker 0 is the chief')
  dist.add_argument('--job_name', help='this process\'s job: ps or worker')
  dist.add_argument('--task_index', type=int, help='this process\'s index in its job '
                    '(default: 0)')
  dist.add_argument('--sync_replicas', action=argparse.BooleanOptionalAction, default=True,
                    help='aggregate the workers\' gradients with SyncReplicasOptimizer '
                    '(default: %(default)s; --no-sync_replicas: asynchronous updates)')
  dist.add_argument('--replicas_to_aggregate', type=cli.positive_int,
                    help='worker batches per synchronous update (default: all workers)')
  dist.add_argument('--ps_timeout_secs', type=cli.non_negative_float, default=0.0,
                    help='a ps exits with an error when its workers have not all finished '
                    'within this time (default: 0, no limit)')
  return p


def _field_value(value):
  """A flag's value as a frozen setting holds it: lists become tuples."""
  return tuple(value) if isinstance(value, list) else value


def train_settings(flags):
  """The settings.TrainSettings of the parsed flags ``flags``: every field from the flag
  of the same name."""
  return run_settings.TrainSettings(**{
      group: kind(**{field.name: _field_value(getattr(flags, field.name))
                     for field in dataclasses.fields(kind)})
      for group, kind in run_settings.groups().items()})


def main(argv, on_step=None):
  """Runs train_graph.py with the flags ``argv``; a one-process run calls
  ``on_step(step, loss, accuracy)`` after every step (see ``training.Trainer.run``)."""
  settings = train_settings(parser().parse_args(argv))
  precision.check(settings.run.precision)
  task = cluster.from_settings(settings, os.environ)
  if task and task.job_name == cluster.PS:
    distributed.run_ps(settings, task)  # Needs neither data nor a train dir.
    return
  data = datasets.training_data(settings.data.dataset_dir, settings.data.validation_split,
                                settings.data.seed)
  if not settings.data.validation_split:
    print('--validation_split 0: per-epoch evaluation and best/ use the test split')
  train_dir = settings.run.train_dir
  try:
    os.makedirs(train_dir, exist_ok=True)
  except OSError as error:
    raise UsageError('--train_dir %s: %s' % (train_dir, error.strerror)) from None
  metadata = training.run_metadata(settings, data)
  chief = not task or cluster.is_chief(task)
  # The chief is the train dir's one writer; other workers write nothing there.
  with train_dir_lock.held(train_dir) if chief else contextlib.nullcontext():
    report = _train(settings, task, data, metadata, on_step, chief)
  if report is None:
    if chief:
      print('%s has already reached the final step; nothing to do' % train_dir)
  else:
    print('final test accuracy %.4f (%d images); checkpoints in %s'
          % (report['accuracy'], report['num_examples'], train_dir))


def _train(settings, task, data, metadata, on_step, chief):
  """Trains in this process (one process, or this cluster ``task``); returns the test
  report, None when there was nothing to do or on a cluster worker that is not the
  chief."""
  replicas = distributed.replicas_per_step(settings, task) if task else 1
  steps_per_epoch = training.run_length(settings, data.num_train, replicas)[0]
  with training_curves.written_at_end(settings.run.train_dir, steps_per_epoch, chief):
    if task:
      return distributed.run_worker(settings, task, data, metadata)
    return training.train(settings, data, metadata, on_step)
