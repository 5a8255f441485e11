"""Which data a run uses: a SIGNS folder named by the user, or the embedded synthetic
set; recorded in the run's metadata so evaluation finds the same held-out split."""

import concurrent.futures
import functools
import os
import threading

from legacy_resnet import signs_data
from legacy_resnet import synthetic_signs
from legacy_resnet.errors import UsageError

SYNTHETIC_SEED = 0


class TrainingData:
  """The train and test Splits of a run, and what building its graph needs at once.

  The synthetic set's pixels are drawn on first use, or in a background thread from
  ``prefetch()`` on, the training split first: the trainer calls it before the session
  work that leaves the interpreter free (initialization, preparing the step), so
  drawing costs no start-up time, and the first step waits for the training split
  only. Drawing while Python builds the graph was measured slower: the two then
  compete for the interpreter.

  Attributes:
    num_train: number of training images.
    class_names: the class names, in label order.
    image_size: [height, width].
    description: what the run trained on, for the metadata.
  """

  def __init__(self, load_train, load_test, num_train, class_names, image_size,
               description):
    self._loaders = (load_train, load_test)  # each () -> Split
    self._splits = None  # (train Future, test Future) once loading has started
    self._lock = threading.Lock()
    self.num_train = num_train
    self.class_names = list(class_names)
    self.image_size = list(image_size)
    self.description = description

  def prefetch(self):
    """Starts loading the splits in a daemon thread (a failing run does not wait for
    it at exit), unless they are loading or loaded already."""
    with self._lock:
      if self._splits is None:
        self._splits = (concurrent.futures.Future(), concurrent.futures.Future())
        threading.Thread(target=self._run_loads, name='training-data', daemon=True).start()

  def _run_loads(self):
    for load, split in zip(self._loaders, self._splits):
      try:
        split.set_result(load())
      except BaseException as error:  # pylint: disable=broad-except
        split.set_exception(error)

  def _loaded(self, index):
    self.prefetch()
    return self._splits[index].result()

  @property
  def train(self):
    return self._loaded(0)

  @property
  def test(self):
    return self._loaded(1)


def from_splits(train, test, description):
  """The TrainingData of two Splits already in memory."""
  return TrainingData(lambda: train, lambda: test, len(train.labels), train.class_names,
                      train.images.shape[1:3], description)


def training_data(dataset_dir):
  """The TrainingData of ``--dataset_dir`` (None: the synthetic set)."""
  if dataset_dir:
    train, test = signs_data.load_dataset_dir(dataset_dir)
    return from_splits(train, test,
                       {'kind': 'signs', 'dataset_dir': os.path.abspath(dataset_dir)})
  num_train, num_test = synthetic_signs.NUM_TRAIN, synthetic_signs.NUM_TEST
  return TrainingData(
      functools.partial(synthetic_signs.generate_split, 'train', num_train, SYNTHETIC_SEED),
      functools.partial(synthetic_signs.generate_split, 'test', num_test, SYNTHETIC_SEED),
      num_train, synthetic_signs.class_names(), [synthetic_signs.IMAGE_SIZE] * 2,
      {'kind': 'synthetic', 'seed': SYNTHETIC_SEED, 'num_train': num_train,
       'num_test': num_test})


def evaluation_split(dataset_dir, dataset_file, trained_on):
  """The labelled split to evaluate: ``dataset_file`` (test or train keys), the test
  file of ``dataset_dir``, or else the held-out split of the data the run trained on."""
  if dataset_file:
    return signs_data.load_split(dataset_file)
  if dataset_dir:
    return signs_data.load_split(os.path.join(dataset_dir, signs_data.TEST_FILE), 'test')
  if trained_on['kind'] == 'synthetic':
    return synthetic_signs.generate_split('test', trained_on['num_test'], trained_on['seed'])
  if trained_on['kind'] == 'signs':
    return signs_data.load_split(
        os.path.join(trained_on['dataset_dir'], signs_data.TEST_FILE), 'test')
  raise UsageError('metadata: unknown dataset kind %r' % trained_on.get('kind'))
