"""Which data a run uses: what the graph needs is known before any pixel is drawn, the
pixels are the synthetic set's own, drawn once in the background, and a failure while
loading reaches the caller."""

import threading

import numpy as np
import pytest

from legacy_resnet.data import datasets
from legacy_resnet.data import signs_data
from legacy_resnet.data import synthetic_signs


def test_synthetic_data_knows_its_shape_before_drawing_and_draws_the_default_set():
  data = datasets.training_data(None)
  assert data._splits is None  # pylint: disable=protected-access  (nothing drawn yet)
  assert (data.num_train, data.image_size) == (synthetic_signs.NUM_TRAIN, [64, 64])
  assert data.description == {'kind': 'synthetic', 'seed': 0, 'num_train': 1200,
                               'num_test': 600}
  data.prefetch()
  data.prefetch()  # Idempotent: one drawing.
  train, test = synthetic_signs.generate()
  assert data.train is data.train
  assert data.class_names == data.train.class_names == test.class_names
  assert len(data.train.labels) == data.num_train
  np.testing.assert_array_equal(data.train.images, train.images)
  np.testing.assert_array_equal(data.test.labels, test.labels)


def test_a_signs_folder_is_read_at_once(signs_dir):
  data = datasets.training_data(signs_dir)
  train, test = signs_data.load_dataset_dir(signs_dir)
  assert (data.num_train, data.class_names, data.image_size) == (
      60, train.class_names, [64, 64])
  assert data.description['kind'] == 'signs'
  np.testing.assert_array_equal(data.test.images, test.images)


def test_drawing_runs_in_another_thread_and_its_failure_reaches_the_reader():
  threads = []

  def failing_load():
    threads.append(threading.current_thread())
    raise MemoryError('no room for the pixels')

  data = datasets.TrainingData(failing_load, failing_load, 10, ['a', 'b'], [8, 8],
                               {'kind': 'test'})
  data.prefetch()
  with pytest.raises(MemoryError, match='no room'):
    _ = data.train
  with pytest.raises(MemoryError):
    _ = data.test
  assert len(threads) == 2 and threads[0] is threads[1]
  assert threads[0] is not threading.main_thread()


def test_the_training_split_is_ready_while_the_test_split_is_still_drawn():
  train, test = synthetic_signs.generate(num_train=6, num_test=6, image_size=8)
  test_may_finish = threading.Event()

  def slow_test_load():
    assert test_may_finish.wait(timeout=30)
    return test

  data = datasets.TrainingData(lambda: train, slow_test_load, 6, train.class_names, [8, 8],
                               {'kind': 'test'})
  data.prefetch()
  assert data.train is train  # Waiting for the test split would fail after 30 s.
  test_may_finish.set()
  assert data.test is test


def test_validation_split_is_stratified_and_follows_the_seed():
  labels = np.repeat(np.arange(3), [10, 20, 1])
  held = datasets.validation_indices(labels, 0.1, seed=0)
  assert np.bincount(labels[held], minlength=3).tolist() == [1, 2, 0]
  np.testing.assert_array_equal(held, datasets.validation_indices(labels, 0.1, seed=0))
  others = [datasets.validation_indices(labels, 0.1, seed) for seed in range(1, 4)]
  assert any(not np.array_equal(held, other) for other in others)
  assert len(datasets.validation_indices(labels, 0.0, seed=0)) == 0


def test_synthetic_validation_split_is_known_before_drawing_and_leaves_the_test_set(
    monkeypatch):
  monkeypatch.setattr(synthetic_signs, 'NUM_TRAIN', 60)
  monkeypatch.setattr(synthetic_signs, 'NUM_TEST', 12)
  drawn = []
  generate = synthetic_signs.generate_split
  monkeypatch.setattr(synthetic_signs, 'generate_split',
                      lambda name, *args: drawn.append(name) or generate(name, *args))
  data = datasets.training_data(None, validation_split=0.2, seed=5)
  assert data.num_train == 48 and data.held_out_name == 'validation'
  data.prefetch()
  train, validation = data.train, data.held_out
  assert len(train.labels) == 48 and np.bincount(validation.labels).tolist() == [2] * 6
  whole = generate('train', 60, datasets.SYNTHETIC_SEED)
  held = datasets.validation_indices(whole.labels, 0.2, 5)
  np.testing.assert_array_equal(validation.images, whole.images[held])
  assert drawn == ['train']  # The test split is drawn only when asked for.
  assert len(data.test.labels) == 12 and drawn == ['train', 'test']
