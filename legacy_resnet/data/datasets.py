"""Which data a run uses: a SIGNS folder named by the user, or the embedded synthetic
set, and the validation split held out of its training file; recorded in the run's
metadata so evaluation finds the same test split."""

import concurrent.futures
import dataclasses
import functools
import os
import threading

import numpy as np

from legacy_resnet.data import signs_data
from legacy_resnet.data import synthetic_signs
from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import UsageError

SYNTHETIC_SEED = 0


def _resolved(future, load):
  """``future`` holding what ``load()`` returns or raises."""
  try:
    future.set_result(load())
  except BaseException as error:  # pylint: disable=broad-except
    future.set_exception(error)
  return future


class TrainingData:
  """The training, validation and test Splits of a run, and what building its graph
  needs at once (num_train, class_names, image_size [height, width], description for the
  metadata, held_out_name: 'validation' or 'test', the split ``held_out`` is).

  Pixels are loaded (``load_*``: functions () -> Split; without ``load_validation`` the
  held-out split is the test split) on first use, or in a background thread from
  ``prefetch()`` on (which the trainer calls before the session work that leaves the
  interpreter free). Only reading ``test`` loads the test split of a run with a validation
  split: training never sees it.
  """

  def __init__(self, load_train, load_test, num_train, class_names, image_size,
               description, load_validation=None):
    # prefetch() loads the first two: the training and held-out splits.
    self._loaders = [load_train, load_validation or load_test, load_test]
    self._splits = None  # Futures of the prefetched splits once loading has started.
    self._test = None  # The test split's Future, when loaded apart.
    self._lock = threading.Lock()
    self.num_train = num_train
    self.class_names = list(class_names)
    self.image_size = list(image_size)
    self.description = description
    self.held_out_name = 'validation' if load_validation else 'test'

  def prefetch(self):
    """Starts loading the training and held-out splits in a daemon thread (a failing
    run does not wait for it at exit), unless they are loading or loaded already."""
    with self._lock:
      if self._splits is None:
        self._splits = [concurrent.futures.Future() for _ in range(2)]
        threading.Thread(target=lambda: list(map(_resolved, self._splits, self._loaders)),
                         name='training-data', daemon=True).start()

  @property
  def train(self):
    self.prefetch()
    return self._splits[0].result()

  @property
  def held_out(self):
    """The split of per-epoch evaluation and the best checkpoint."""
    self.prefetch()
    return self._splits[1].result()

  @property
  def test(self):
    if self.held_out_name == 'test':
      return self.held_out
    with self._lock:
      if self._test is None:
        self._test = _resolved(concurrent.futures.Future(), self._loaders[2])
    return self._test.result()


def validation_counts(class_counts, fraction):
  """Images per class held out for validation: ``fraction`` of each class, rounded,
  at least one of a class with two or more, never all of one."""
  if not fraction:
    return [0] * len(class_counts)
  return [min(count - 1, max(1, int(round(fraction * count)))) if count > 1 else 0
          for count in class_counts]


def validation_indices(labels, fraction, seed):
  """Sorted indices of the stratified validation split of a training file's ``labels``
  (``validation_counts`` of each class, drawn by ``seed``)."""
  labels = np.asarray(labels)
  chosen = [np.random.default_rng([seed, label]).permutation(np.flatnonzero(labels == label))[:count]
            for label, count in enumerate(validation_counts(np.bincount(labels), fraction))]
  return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def _split_off_validation(load_file, fraction, seed):
  """(load_train, load_validation): the two parts of ``load_file()``'s Split, which is
  loaded once."""

  @functools.cache
  def parts():
    whole = load_file()
    held = validation_indices(whole.labels, fraction, seed)
    kept = np.setdiff1d(np.arange(len(whole.labels)), held)
    described = '%s, %%s part (--validation_split %g, seed %d)' % (whole.source, fraction, seed)
    return [dataclasses.replace(whole, images=whole.images[indices], labels=whole.labels[indices],
                                source=described % name)
            for indices, name in ((kept, 'training'), (held, 'validation'))]

  return (lambda: parts()[0]), (lambda: parts()[1])


def training_data(dataset_dir, validation_split=0.0, seed=0):
  """The TrainingData of ``--dataset_dir`` (None: the synthetic set), with
  ``validation_split`` of each class of the training file held out (drawn by ``seed``).
  """
  if dataset_dir:
    description = {'kind': 'signs', 'dataset_dir': os.path.abspath(dataset_dir)}
    if not validation_split:
      return from_splits(*signs_data.load_dataset_dir(dataset_dir), description)
    train = signs_data.load_split(os.path.join(dataset_dir, signs_data.TRAIN_FILE), 'train')
    test_path = os.path.join(dataset_dir, signs_data.TEST_FILE)
    if not os.path.isfile(test_path):
      raise SettingError('{dataset_dir} %s: %s not found', dataset_dir, signs_data.TEST_FILE)

    def load_test():
      test = signs_data.load_split(test_path, 'test')
      signs_data.check_same_kind(train, test)
      return test

    load_train, load_validation = _split_off_validation(lambda: train, validation_split, seed)
    labels, class_names, image_size = train.labels, train.class_names, train.images.shape[1:3]
  else:
    num_train, num_test = synthetic_signs.NUM_TRAIN, synthetic_signs.NUM_TEST
    description = {'kind': 'synthetic', 'seed': SYNTHETIC_SEED, 'num_train': num_train,
                   'num_test': num_test}
    load_train, load_test = (functools.partial(synthetic_signs.generate_split, name, count,
                                               SYNTHETIC_SEED)
                             for name, count in (('train', num_train), ('test', num_test)))
    class_names, image_size = synthetic_signs.class_names(), [synthetic_signs.IMAGE_SIZE] * 2
    # The synthetic classes are balanced (synthetic_signs.draw_images): the counts are
    # known before any pixel is drawn.
    labels = np.arange(num_train) % len(class_names)
    load_validation = None
    if validation_split:
      load_train, load_validation = _split_off_validation(load_train, validation_split, seed)
  num_validation = sum(validation_counts(np.bincount(labels), validation_split))
  return TrainingData(load_train, load_test, len(labels) - num_validation, class_names,
                      image_size, description, load_validation)


def from_splits(train, test, description):
  """The TrainingData of two Splits already in memory (no validation split)."""
  return TrainingData(lambda: train, lambda: test, len(train.labels), train.class_names,
                      train.images.shape[1:3], description)


def _known(trained_on):
  """``trained_on``, a run's metadata 'dataset', unless of an unknown kind."""
  if trained_on['kind'] not in ('signs', 'synthetic'):
    raise UsageError('metadata: unknown dataset kind %r' % trained_on.get('kind'))
  return trained_on


def evaluation_split(dataset_dir, dataset_file, trained_on):
  """The labelled split to evaluate: ``dataset_file`` (test or train keys), the test
  file of ``dataset_dir``, or else the held-out split of the data the run trained on."""
  if dataset_file:
    return signs_data.load_split(dataset_file)
  dataset_dir = dataset_dir or _known(trained_on).get('dataset_dir')
  if dataset_dir:
    return signs_data.load_split(os.path.join(dataset_dir, signs_data.TEST_FILE), 'test')
  return synthetic_signs.generate_split('test', trained_on['num_test'], trained_on['seed'])


def validation_split(trained_on, fraction, seed):
  """The validation Split that a run held out of its training data (``trained_on``: its
  metadata's 'dataset'; ``fraction`` and ``seed``: its validation split and seed)."""
  if not fraction:
    raise SettingError('{split} validation: the run held out no validation split (it trained '
                       'with {validation_split} 0, or before validation splits existed)')
  return training_data(_known(trained_on).get('dataset_dir'), fraction, seed).held_out
