"""Every setting of a training run, declared once: its name (the typed field's and the
flag's), kind of value (parser, Python type, allowed range), default and help. Adding a
setting is adding one ``Setting`` here. Flag names follow tensorflow/models' slim
``train_image_classifier.py`` wherever the concept is the same.
"""

import dataclasses
from typing import Callable, Optional, Tuple

from legacy_resnet.data import photo_augmentation
from legacy_resnet.data import preprocessing
from legacy_resnet.graph import optimization
from legacy_resnet.graph import precision
from legacy_resnet.core import cli
from nets import nets_factory


@dataclasses.dataclass(frozen=True)
class Kind:
  """How a flag's text is parsed, the Python type it becomes and the values it allows."""
  parse: Callable[[str], object]
  type: type
  allowed: str


TEXT = Kind(str, str, 'text')
INTEGER = Kind(int, int, 'integer')
POSITIVE_INT = Kind(cli.positive_int, int, 'integer >= 1')
NON_NEGATIVE_INT = Kind(cli.non_negative_int, int, 'integer >= 0')
NON_NEGATIVE_FLOAT = Kind(cli.non_negative_float, float, 'number >= 0')
FRACTION = Kind(cli.fraction, float, 'number in [0, 1)')
PROBABILITY = Kind(cli.probability, float, 'number in [0, 1]')
DEGREES = Kind(cli.degrees, float, 'degrees in [0, 180]')
SCOPES = Kind(cli.comma_list, Tuple[str, ...], 'comma-separated scopes')
SWITCH = Kind(bool, bool, 'on / off (--no-...)')


@dataclasses.dataclass(frozen=True)
class Setting:
  """One setting. A default of None means "not set" (the field is Optional)."""
  name: str
  kind: Kind
  default: object
  help: str
  choices: Optional[Tuple[str, ...]] = None
  metavar: Optional[str] = None
  # When the flag is not given: the value as a function of the parsed flags (a preset's).
  default_of: Optional[Callable[[object], object]] = None

  @property
  def type(self):
    unset = self.default is None and self.default_of is None
    return Optional[self.kind.type] if unset else self.kind.type


def _photo(kind, field, help_text):
  """The --random_* setting of photo augmentation ``field``; its default is the preset's."""
  return Setting(photo_augmentation.FLAGS[field], kind, None,
                 help_text + ' (0: off; default: from --augmentation)',
                 default_of=lambda flags: getattr(
                     photo_augmentation.PRESETS[flags.augmentation].photo, field))


@dataclasses.dataclass(frozen=True)
class Group:
  """A group of settings: one frozen dataclass (``class_name``) the library reads, one
  section (``title``) of ``--help``."""
  field: str
  class_name: str
  title: str
  settings: Tuple[Setting, ...]


TRAIN_SETTINGS = (
    Group('model', 'ModelSettings', 'model: the network and what shapes its weights', (
        Setting('model_name', TEXT, 'resnet_v1_50', 'the network: one of %s (default: %%(default)s)'
                % ', '.join(sorted(nets_factory.networks_map)),
                choices=tuple(sorted(nets_factory.networks_map)), metavar='MODEL_NAME'),
        Setting('weight_decay', NON_NEGATIVE_FLOAT, 1e-4,
                'L2 regularization of the weights (default: %(default)s)'),
        Setting('batch_norm_decay', FRACTION, 0.9,
                'batch-norm moving-statistics decay; 0.9 converges in a few dozen steps, 0.997 (slim\'s '
                'default) needs thousands (default: %(default)s)'),
        Setting('zero_init_residual', SWITCH, True,
                'start every residual branch\'s last batch-norm scale at zero (default: %(default)s)'),
        Setting('moving_average_decay', FRACTION, None,
                'keep an exponential moving average of the weights (e.g. 0.999) and evaluate with it'),
        Setting('label_smoothing', FRACTION, 0.0,
                'mix this much of a uniform distribution into the targets (default: %(default)s)'),
        Setting('trainable_scopes', SCOPES, (), 'comma-separated scopes to train; the rest stay frozen'),
    )),
    Group('input', 'InputSettings',
          'input: preprocessing (recorded with the run; eval_graph.py applies it too) and augmentation', (
        Setting('preprocessing_name', TEXT, 'signs',
                'signs: pixels in [0, 1]; vgg: [0, 255] minus the ImageNet means (slim resnet_v1 '
                'checkpoints); inception: central crop, [-1, 1] (slim resnet_v2 checkpoints) '
                '(default: %(default)s)', choices=preprocessing.PREPROCESSING_NAMES),
        Setting('train_image_size', POSITIVE_INT, None,
                'network input side when training, e.g. 224 for a zoo checkpoint (default: the images\' '
                'own size)'),
        Setting('eval_image_size', POSITIVE_INT, None,
                'network input side when evaluating (default: --train_image_size)'),
        Setting('labels_offset', NON_NEGATIVE_INT, 0,
                'logits before the first class, dropped: 1 for slim\'s 1001-class checkpoints '
                '(background first) (default: %(default)s)'),
        Setting('random_shift', NON_NEGATIVE_INT, 4, 'random shift of up to this many pixels (0: off)'),
        Setting('horizontal_flip', SWITCH, True,
                'flip half the images left to right (default: %(default)s)'),
        Setting('random_brightness', NON_NEGATIVE_FLOAT, 0.1,
                'add a random offset of up to this much (0: off; default: %(default)s)'),
        Setting('random_contrast', NON_NEGATIVE_FLOAT, 0.1,
                'scale the contrast by up to 1 +- this (0: off; default: %(default)s)'),
        Setting('augmentation', TEXT, photo_augmentation.DEFAULT_PRESET,
                'the recipe the --random_* flags below, --photo_fraction and --num_epochs default to: '
                'default leaves the --random_* transforms off; photo, for predictions on photographs '
                'taken elsewhere (docs/photos.md), turns them on (crop scale %(crop_scale)g, rotation '
                '%(rotation)g, hue %(hue)g, saturation %(saturation)g, white balance %(white_balance)g, '
                'blur %(blur)g, noise %(noise)g) for a share %(fraction)g of the images, over %(epochs)g '
                'epochs; each flag given overrides its value (default: %%(default)s)'
                % dict(photo_augmentation.PRESETS['photo'].photo._asdict(),
                       epochs=photo_augmentation.PRESETS['photo'].epochs),
                choices=tuple(sorted(photo_augmentation.PRESETS))),
        _photo(NON_NEGATIVE_FLOAT, 'crop_scale', 'random resized crop: zoom each image by 1/(1+S) to '
               '1+S and move it at random within the image'),
        _photo(DEGREES, 'rotation', 'rotate each image by up to this many degrees either way'),
        _photo(DEGREES, 'hue', 'turn colours around the grey axis by up to this many degrees'),
        _photo(FRACTION, 'saturation', 'scale colourfulness by 1 +- up to this'),
        _photo(FRACTION, 'white_balance', 'scale each colour channel by 1 +- up to this'),
        _photo(NON_NEGATIVE_FLOAT, 'blur', 'Gaussian blur of sigma up to this many pixels'),
        _photo(NON_NEGATIVE_FLOAT, 'noise', 'Gaussian pixel noise of standard deviation up to this'),
        _photo(PROBABILITY, 'fraction', 'share of the images, drawn per image, that get the --random_* '
               'transforms above; the others keep the training set\'s own look'),
    )),
    Group('data', 'DataSettings', 'data: where it is, how it is split and batched', (
        Setting('dataset_dir', TEXT, None,
                'folder with train_signs.h5 and test_signs.h5 (default: the embedded synthetic hand-sign '
                'set)'),
        Setting('validation_split', FRACTION, 0.1,
                'fraction of each class of the training file held out for the per-epoch evaluation and '
                'the best/ checkpoint; the test file is read only for a final report (0: evaluate and '
                'choose best/ on the test file, as before; default: %(default)s)'),
        Setting('batch_size', POSITIVE_INT, 32, 'images per training step (default: %(default)s)'),
        Setting('seed', NON_NEGATIVE_INT, 0,
                'same seed, same CPU run, same losses and validation split (default: %(default)s)'),
    )),
    Group('optimizer', 'OptimizerSettings', 'optimizer', (
        Setting('optimizer', TEXT, 'adam', '(default: %(default)s)', choices=optimization.OPTIMIZERS),
        Setting('momentum', NON_NEGATIVE_FLOAT, 0.9,
                '--optimizer momentum: its momentum (default: %(default)s)'),
        Setting('adam_beta1', FRACTION, 0.9,
                '--optimizer adam: decay of the first moment (default: %(default)s)'),
        Setting('adam_beta2', FRACTION, 0.999,
                '--optimizer adam: decay of the second moment (default: %(default)s)'),
        Setting('opt_epsilon', NON_NEGATIVE_FLOAT, 1e-8,
                '--optimizer adam or rmsprop: epsilon of the update\'s denominator (default: %(default)s)'),
        Setting('rmsprop_decay', FRACTION, 0.9,
                '--optimizer rmsprop: decay of the squared-gradient average (default: %(default)s)'),
        Setting('rmsprop_momentum', NON_NEGATIVE_FLOAT, 0.9,
                '--optimizer rmsprop: its momentum (default: %(default)s)'),
    )),
    Group('schedule', 'ScheduleSettings', 'schedule: the learning rate and the run\'s length', (
        Setting('learning_rate', NON_NEGATIVE_FLOAT, 3e-3, 'rate after the warm-up (default: %(default)s)'),
        Setting('learning_rate_decay_type', TEXT, 'cosine', '(default: %(default)s)',
                choices=optimization.DECAY_TYPES),
        Setting('warmup_epochs', NON_NEGATIVE_FLOAT, 1.0,
                'linear learning-rate warm-up (default: %(default)s)'),
        Setting('learning_rate_decay_factor', NON_NEGATIVE_FLOAT, 0.94,
                'exponential decay: the rate is multiplied by this every --num_epochs_per_decay epochs '
                '(default: %(default)s)'),
        Setting('num_epochs_per_decay', NON_NEGATIVE_FLOAT, 2.0,
                'exponential decay: epochs between decays (default: %(default)s)'),
        Setting('end_learning_rate', NON_NEGATIVE_FLOAT, 0.0,
                'cosine decay: the rate at the last step (default: %(default)s)'),
        Setting('num_epochs', NON_NEGATIVE_FLOAT, None,
                'passes over the training split (default: from --augmentation, %s)'
                % ', '.join('%g for %s' % (recipe.epochs, preset)
                            for preset, recipe in photo_augmentation.PRESETS.items()),
                default_of=lambda flags: photo_augmentation.PRESETS[flags.augmentation].epochs),
        Setting('max_number_of_steps', POSITIVE_INT, None, 'total steps; overrides --num_epochs'),
    )),
    Group('run', 'RunSettings',
          'run: train dir, checkpoints, warm start, threads, devices and number format', (
        Setting('train_dir', TEXT, 'runs/train',
                'checkpoints, metadata and TensorBoard logs (default: %(default)s); rerunning with the '
                'same folder resumes'),
        Setting('save_every_n_steps', NON_NEGATIVE_INT, 0,
                'also save every N steps (checkpoints are always saved after each epoch)'),
        Setting('save_interval_secs', NON_NEGATIVE_FLOAT, 600.0,
                'also save when this many seconds passed since the last save (default: %(default)s)'),
        Setting('max_to_keep', POSITIVE_INT, 5, 'latest checkpoints kept (default: %(default)s)'),
        Setting('checkpoint_path', TEXT, None, 'warm-start from this checkpoint when --train_dir has none'),
        Setting('checkpoint_exclude_scopes', SCOPES, (),
                'comma-separated scopes not restored from --checkpoint_path'),
        Setting('ignore_missing_vars', SWITCH, False,
                'initialize the variables --checkpoint_path lacks instead of refusing it'),
        Setting('log_every_n_steps', POSITIVE_INT, 10,
                'TensorBoard summary interval in steps (default: %(default)s)'),
        Setting('num_intra_threads', NON_NEGATIVE_INT, 0, 'threads inside one op (0: TensorFlow chooses)'),
        Setting('num_inter_threads', NON_NEGATIVE_INT, 0, 'ops run at once (0: TensorFlow chooses)'),
        Setting('num_clones', POSITIVE_INT, 1,
                'replicate the model over this many GPUs (or logical CPUs with --clone_on_cpu); '
                '--batch_size is split over them (default: %(default)s)'),
        Setting('clone_on_cpu', SWITCH, False, 'place the clones on logical CPU devices'),
        Setting('xla', SWITCH, False, 'XLA just-in-time compilation'),
        Setting('precision', TEXT, precision.DEFAULT,
                'number format of the network\'s computation; variables, batch-norm statistics, the '
                'loss and checkpoints stay float32. bfloat16: CPUs with AVX512-BF16 or AMX only (refused '
                'elsewhere, never emulated); float16: GPUs only, with dynamic loss scaling (default: '
                '%(default)s)', choices=precision.PRECISIONS),
    )),
    Group('cluster', 'ClusterSettings',
          'parameter-server cluster (or the TF_CONFIG environment variable; not both)', (
        Setting('ps_hosts', TEXT, None, 'comma-separated host:port of the parameter servers'),
        Setting('worker_hosts', TEXT, None,
                'comma-separated host:port of the workers; worker 0 is the chief'),
        Setting('job_name', TEXT, None, 'this process\'s job: ps or worker'),
        Setting('task_index', INTEGER, None, 'this process\'s index in its job (default: 0)'),
        Setting('sync_replicas', SWITCH, True,
                'aggregate the workers\' gradients with SyncReplicasOptimizer (default: %(default)s; '
                '--no-sync_replicas: asynchronous updates)'),
        Setting('replicas_to_aggregate', POSITIVE_INT, None,
                'worker batches per synchronous update (default: all workers)'),
        Setting('ps_timeout_secs', NON_NEGATIVE_FLOAT, 0.0,
                'a ps exits with an error when its workers have not all finished within this time '
                '(default: 0, no limit)'),
    )),
)
