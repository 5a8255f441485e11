"""A train dir's legacy_resnet.json, written by another version or edited by hand, is
checked key by key before use; a bad one is one error naming the file and the key."""

import json

import numpy as np
import pytest

from legacy_resnet.checkpointing import metadata_checks
from legacy_resnet.core.errors import UsageError

GOOD = {
    'model_name': 'resnet_v1_18',
    'class_names': ['0', '1', '2'],
    'image_size': [64, 64],
    'moving_average_decay': None,
    'dataset': {'kind': 'synthetic', 'seed': 0, 'num_train': 1200, 'num_test': 600},
    'best': {'accuracy': 0.5, 'loss': 1.2, 'global_step': 10, 'checkpoint': 'best/m-10'},
    'last_eval': {'accuracy': 0.5, 'loss': 1.2, 'global_step': 10},
    'written_by_a_newer_version': [1, 2, 3],
}


def test_what_train_graph_writes_passes():
  assert metadata_checks.check_metadata('m.json', dict(GOOD)) == GOOD
  signs = dict(GOOD, dataset={'kind': 'signs', 'dataset_dir': '/data/signs'},
               moving_average_decay=0.999)
  assert metadata_checks.check_metadata('m.json', signs) == signs


@pytest.mark.parametrize('key, value', [
    ('model_name', 'resnet_v9'),
    ('model_name', 18),
    ('class_names', []),
    ('class_names', ['a', 'a']),
    ('class_names', 'abc'),
    ('class_names', [1, 2]),
    ('image_size', [64]),
    ('image_size', [64, 0]),
    ('image_size', [64, 10 ** 9]),
    ('image_size', [64.5, 64]),
    ('image_size', [True, 64]),
    ('moving_average_decay', 1.0),
    ('moving_average_decay', float('nan')),
    ('moving_average_decay', '0.9'),
    ('dataset', {'kind': ''}),
    ('dataset', {'kind': 7}),
    ('dataset', {'kind': 'signs'}),
    ('dataset', {'kind': 'synthetic', 'seed': 0, 'num_train': 1, 'num_test': 10 ** 12}),
    ('dataset', {'kind': 'synthetic', 'seed': -1, 'num_train': 1, 'num_test': 1}),
    ('dataset', ['synthetic']),
    ('best', {'accuracy': 2.0, 'loss': 1.0, 'global_step': 1}),
    ('best', {'accuracy': 0.5, 'loss': float('inf'), 'global_step': 1}),
    ('last_eval', {'accuracy': 0.5, 'loss': 1.0, 'global_step': -1}),
    ('last_eval', 'good'),
    ('best', {'accuracy': 0.5, 'loss': 1.0, 'global_step': 1, 'checkpoint': 7}),
])
def test_a_bad_value_names_the_file_and_key(key, value):
  with pytest.raises(UsageError, match=r'^run/legacy_resnet\.json: key %s ' % key):
    metadata_checks.check_metadata('run/legacy_resnet.json', dict(GOOD, **{key: value}))


@pytest.mark.parametrize('key', ['model_name', 'class_names', 'image_size',
                                 'moving_average_decay', 'dataset'])
def test_a_missing_key_is_named(key):
  metadata = dict(GOOD)
  del metadata[key]
  with pytest.raises(UsageError, match=r'^m\.json: key %s missing$' % key):
    metadata_checks.check_metadata('m.json', metadata)


@pytest.mark.parametrize('text, message', [
    ('[1, 2]', 'must hold a JSON object, not list'),
    ('{"model_name": ', 'unreadable metadata'),
    ('[' * 100000 + ']' * 100000, 'unreadable metadata'),
    ('{"a": "' + 'x' * (2 << 20) + '"}', 'larger than 1048576 bytes'),
    ('\udcff', 'unreadable metadata'),
])
def test_unreadable_files_are_one_error(tmp_path, text, message):
  path = tmp_path / 'legacy_resnet.json'
  path.write_text(text, errors='surrogateescape')
  with pytest.raises(UsageError, match=message):
    metadata_checks.load_metadata(str(path))


def test_a_loaded_file_is_checked(tmp_path):
  path = tmp_path / 'legacy_resnet.json'
  path.write_text(json.dumps(dict(GOOD, image_size=[64, -1])))
  with pytest.raises(UsageError, match='legacy_resnet.json: key image_size must be'):
    metadata_checks.load_metadata(str(path))


@pytest.mark.parametrize('value', [np.array([1, 2]), np.float32(3), np.int64(-1),
                                   np.array(b'12')])
def test_global_step_must_be_a_non_negative_integer_scalar(value):
  with pytest.raises(UsageError, match='^ckpt: tensor global_step must be'):
    metadata_checks.checked_global_step('ckpt', value)
  assert metadata_checks.checked_global_step('ckpt', np.int64(7)) == 7
