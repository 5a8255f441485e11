"""The SIGNS reader: real-format files round-trip, and every defect is one UsageError
line naming the file and the key."""

import h5py
import numpy as np
import pytest

from legacy_resnet.data import signs_data
from legacy_resnet.core.errors import UsageError


def write_h5(path, **datasets):
  """An HDF5 file at ``path`` holding the given arrays under their keyword names."""
  with h5py.File(path, 'w') as out:
    for key, value in datasets.items():
      out.create_dataset(key, data=value)
  return str(path)


def signs_arrays(prefix='train', num_images=12, classes=(0, 1, 2, 3, 4, 5), size=(8, 8)):
  """Valid SIGNS keys: uint8 x [N, H, W, 3], int64 y [N] cycling through ``classes``."""
  rng = np.random.default_rng(0)
  classes = np.asarray(classes, dtype=np.int64)
  return {
      '%s_set_x' % prefix: rng.integers(0, 256, (num_images,) + size + (3,), dtype=np.uint8),
      '%s_set_y' % prefix: classes[np.arange(num_images) % len(classes)],
      'list_classes': classes,
  }


def write_dataset_dir(folder, train_classes=(0, 1, 2, 3, 4, 5), test_classes=None,
                      train_size=(8, 8), test_size=None):
  write_h5(folder / signs_data.TRAIN_FILE,
           **signs_arrays('train', classes=train_classes, size=train_size))
  write_h5(folder / signs_data.TEST_FILE, **signs_arrays(
      'test', num_images=6, classes=test_classes or train_classes, size=test_size or train_size))
  return str(folder)


@pytest.mark.parametrize('label_shape', ['flat', 'row'])
def test_course_format_round_trips(tmp_path, label_shape):
  arrays = signs_arrays('train')
  if label_shape == 'row':  # the course notebooks save y as [1, N]
    arrays['train_set_y'] = arrays['train_set_y'][None, :]
  split = signs_data.load_split(write_h5(tmp_path / 'train_signs.h5', **arrays), 'train')
  assert split.images.dtype == np.float32 and split.images.shape == (12, 8, 8, 3)
  np.testing.assert_array_equal(split.images * 255.0, arrays['train_set_x'].astype(np.float32))
  assert split.labels.dtype == np.int64
  np.testing.assert_array_equal(split.labels, np.arange(12) % 6)
  assert split.class_names == ['0', '1', '2', '3', '4', '5']
  assert split.source.endswith('train_signs.h5')


@pytest.mark.parametrize('classes', [(7, 3, 9), tuple(range(10))])
def test_class_count_and_order_come_from_list_classes(tmp_path, classes):
  split = signs_data.load_split(
      write_h5(tmp_path / 'data.h5', **signs_arrays('test', num_images=20, classes=classes)))
  assert split.class_names == [str(value) for value in classes]
  np.testing.assert_array_equal(split.labels, np.arange(20) % len(classes))


@pytest.mark.parametrize('prefix', ['train', 'test'])
def test_prefix_is_detected_from_the_keys(tmp_path, prefix):
  path = write_h5(tmp_path / 'any_name.h5', **signs_arrays(prefix))
  assert len(signs_data.load_split(path).labels) == 12


@pytest.mark.parametrize('scale', [1.0, 255.0])
def test_float_pixels_in_either_range_are_scaled_to_unit(tmp_path, scale):
  arrays = signs_arrays()
  unit = arrays['train_set_x'].astype(np.float64) / 255.0
  arrays['train_set_x'] = unit * scale
  split = signs_data.load_split(write_h5(tmp_path / 'f.h5', **arrays))
  np.testing.assert_allclose(split.images, unit, atol=1e-6)


def test_dataset_dir_gives_train_and_test(tmp_path):
  train, test = signs_data.load_dataset_dir(write_dataset_dir(tmp_path, train_size=(16, 12)))
  assert train.images.shape == (12, 16, 12, 3) and test.images.shape == (6, 16, 12, 3)
  assert train.class_names == test.class_names


def _replace(key, value):
  def edit(arrays):
    arrays[key] = value
  return edit


def _delete(key):
  def edit(arrays):
    del arrays[key]
  return edit


def _set_pixel(value):
  def edit(arrays):
    arrays['train_set_x'] = arrays['train_set_x'].astype(np.float32)
    arrays['train_set_x'][3, 1, 2, 0] = value
  return edit


# (defect, edit of valid arrays, key the message must name, further text it must hold)
DEFECTS = [
    ('x missing', _delete('train_set_x'), 'train_set_x', 'keys present: list_classes'),
    ('y missing', _delete('train_set_y'), 'train_set_y', 'missing'),
    ('classes missing', _delete('list_classes'), 'list_classes', 'missing'),
    ('x rank 3', _replace('train_set_x', np.zeros((12, 8, 8), np.uint8)), 'train_set_x',
     '[12, 8, 8]'),
    ('x one channel', _replace('train_set_x', np.zeros((12, 8, 8, 1), np.uint8)), 'train_set_x',
     '[N, H, W, 3]'),
    ('x strings', _replace('train_set_x', np.full((12, 8, 8, 3), b'ab')), 'train_set_x',
     'dtype'),
    ('x empty', _replace('train_set_x', np.zeros((0, 8, 8, 3), np.uint8)), 'train_set_x',
     'no pixels'),
    ('x zero width', _replace('train_set_x', np.zeros((12, 8, 0, 3), np.uint8)), 'train_set_x',
     'no pixels'),
    ('x NaN', _set_pixel(np.nan), 'train_set_x', 'NaN'),
    ('x inf', _set_pixel(np.inf), 'train_set_x', 'infinite'),
    ('x negative', _set_pixel(-3.0), 'train_set_x', 'outside 0..255'),
    ('x above 255', _replace('train_set_x', np.full((12, 8, 8, 3), 300, np.int32)),
     'train_set_x', 'outside 0..255'),
    ('y too short', _replace('train_set_y', np.zeros(11, np.int64)), 'train_set_y',
     '11 labels for the 12 images'),
    ('y rank 2', _replace('train_set_y', np.zeros((12, 1), np.int64)), 'train_set_y',
     '[12, 1]'),
    ('y fractions', _replace('train_set_y', np.full(12, 0.5)), 'train_set_y', 'whole numbers'),
    ('y strings', _replace('train_set_y', np.full(12, b'one')), 'train_set_y', 'integers'),
    ('y outside classes', _replace('train_set_y', np.r_[np.zeros(11, np.int64), 6]),
     'train_set_y', 'label 6'),
    ('classes empty', _replace('list_classes', np.zeros(0, np.int64)), 'list_classes', 'empty'),
    ('classes repeated', _replace('list_classes', np.array([0, 1, 2, 3, 4, 5, 3])),
     'list_classes', 'repeats the value 3'),
    ('classes scalar', _replace('list_classes', np.int64(6)), 'list_classes', 'shape'),
    ('classes names', _replace('list_classes', np.array([b'a', b'b'])), 'list_classes',
     'integers'),
]


@pytest.mark.parametrize('edit,key,text', [defect[1:] for defect in DEFECTS],
                         ids=[defect[0] for defect in DEFECTS])
def test_defect_is_one_line_naming_file_and_key(tmp_path, edit, key, text):
  arrays = signs_arrays('train')
  edit(arrays)
  path = write_h5(tmp_path / 'broken.h5', **arrays)
  with pytest.raises(UsageError) as caught:
    signs_data.load_split(path, 'train')
  message = str(caught.value)
  assert '\n' not in message
  assert message.startswith(path + ': ') and key in message and text in message


def test_group_instead_of_dataset(tmp_path):
  path = str(tmp_path / 'group.h5')
  with h5py.File(path, 'w') as out:
    out.create_group('train_set_x')
  with pytest.raises(UsageError, match='group.h5: key train_set_x is a group'):
    signs_data.load_split(path, 'train')


def test_file_without_either_prefix_names_both_keys(tmp_path):
  path = write_h5(tmp_path / 'other.h5', images=np.zeros(3))
  with pytest.raises(UsageError, match='train_set_x or test_set_x missing.*keys present: images'):
    signs_data.load_split(path)


def _text_file(path):
  path.write_text('train_set_x,train_set_y\n1,2\n')


def _truncated_file(path):
  write_h5(path, **signs_arrays())
  path.write_bytes(path.read_bytes()[:3000])


def _empty_file(path):
  path.write_bytes(b'')


@pytest.mark.parametrize('make', [_text_file, _truncated_file, _empty_file])
def test_file_that_is_not_hdf5(tmp_path, make):
  path = tmp_path / 'train_signs.h5'
  make(path)
  with pytest.raises(UsageError) as caught:
    signs_data.load_split(str(path), 'train')
  assert str(caught.value).startswith('%s: not a readable HDF5 file' % path)
  assert '\n' not in str(caught.value)


def test_missing_file(tmp_path):
  with pytest.raises(UsageError, match='nowhere.h5: file not found'):
    signs_data.load_split(str(tmp_path / 'nowhere.h5'), 'test')


def test_missing_folder_and_missing_file_in_folder(tmp_path):
  with pytest.raises(UsageError, match='^dataset_dir .*absent: folder not found'):
    signs_data.load_dataset_dir(str(tmp_path / 'absent'))
  write_h5(tmp_path / signs_data.TRAIN_FILE, **signs_arrays('train'))
  with pytest.raises(UsageError, match='test_signs.h5: file not found'):
    signs_data.load_dataset_dir(str(tmp_path))


def test_train_and_test_must_share_list_classes(tmp_path):
  folder = write_dataset_dir(tmp_path, test_classes=(0, 1, 2))
  with pytest.raises(UsageError, match=r'test_signs.h5: key list_classes .* differs'):
    signs_data.load_dataset_dir(folder)


def test_train_and_test_must_share_image_size(tmp_path):
  folder = write_dataset_dir(tmp_path, test_size=(8, 9))
  with pytest.raises(UsageError, match='test_signs.h5: key test_set_x holds 8x9 images, '
                     'but train_set_x in .* holds 8x8'):
    signs_data.load_dataset_dir(folder)
