"""Which data a run uses: a SIGNS folder named by the user, or the embedded synthetic
set; recorded in the run's metadata so evaluation finds the same held-out split."""

import os

from legacy_resnet import signs_data
from legacy_resnet import synthetic_signs
from legacy_resnet.errors import UsageError

SYNTHETIC_SEED = 0


def training_data(dataset_dir):
  """(train Split, test Split, description for the metadata)."""
  if dataset_dir:
    train, test = signs_data.load_dataset_dir(dataset_dir)
    return train, test, {'kind': 'signs', 'dataset_dir': os.path.abspath(dataset_dir)}
  train, test = synthetic_signs.generate(seed=SYNTHETIC_SEED)
  return train, test, {'kind': 'synthetic', 'seed': SYNTHETIC_SEED,
                       'num_train': len(train.labels), 'num_test': len(test.labels)}


def evaluation_split(dataset_dir, dataset_file, trained_on):
  """The labelled split to evaluate: ``dataset_file`` (test or train keys), the test
  file of ``dataset_dir``, or else the held-out split of the data the run trained on."""
  if dataset_file:
    return signs_data.load_split(dataset_file)
  if dataset_dir:
    return signs_data.load_split(os.path.join(dataset_dir, signs_data.TEST_FILE), 'test')
  if trained_on['kind'] == 'synthetic':
    return synthetic_signs.generate(num_train=trained_on['num_train'],
                                    num_test=trained_on['num_test'],
                                    seed=trained_on['seed'])[1]
  if trained_on['kind'] == 'signs':
    return signs_data.load_split(
        os.path.join(trained_on['dataset_dir'], signs_data.TEST_FILE), 'test')
  raise UsageError('metadata: unknown dataset kind %r' % trained_on.get('kind'))
