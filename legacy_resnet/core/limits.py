"""Size limits (docs/security.md) checked before anything large is allocated for a file from
outside: a file over one, or whose header promises more than it holds, is a UsageError."""

import glob
import math
import os
import struct

import numpy as np

from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import UsageError

# One HDF5 dataset read into memory, as stored (uint8 pixels become 4 times as many bytes).
MAX_DATASET_BYTES = 1 << 30
# An image file read into memory, and the pixels (frames x height x width) its header
# may declare; decoding to float32 RGB takes 12 bytes per pixel.
MAX_IMAGE_FILE_BYTES = 64 << 20
MAX_IMAGE_PIXELS = 1 << 25
# All tensors of a checkpoint, as its index declares them.
MAX_CHECKPOINT_BYTES = 8 << 30


def _size(count):
  """'1.5 GiB' style."""
  for unit in ('bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'):
    if count < 1024 or unit == 'EiB':
      return ('%d %s' if unit == 'bytes' else '%.1f %s') % (count, unit)
    count /= 1024.0


def check_dataset(path, key, dataset):
  """Raises unless h5py ``dataset`` has fixed-size values and can be read whole within
  MAX_DATASET_BYTES from what ``path`` itself stores (the caller checks which values)."""
  if dataset.dtype.hasobject:  # Variable-length values: their size is not declared.
    raise UsageError('%s: key %s must hold numbers, got variable-length values'
                     % (path, key))
  if dataset.is_virtual or dataset.external:
    raise UsageError('%s: key %s keeps its data in other files (external or virtual '
                     'storage), which are not read' % (path, key))
  wanted = math.prod(map(int, dataset.shape)) * dataset.dtype.itemsize  # Python ints: no overflow.
  if wanted > MAX_DATASET_BYTES:
    raise UsageError('%s: key %s declares shape %s of %s, %s; the limit is %s'
                     % (path, key, list(dataset.shape), dataset.dtype, _size(wanted),
                        _size(MAX_DATASET_BYTES)))
  stored = dataset.id.get_storage_size()
  file_size = os.path.getsize(path)
  filtered = dataset.id.get_create_plist().get_nfilters() > 0
  # Unfiltered data must all be in the file; compressed data cannot take more room.
  if stored > file_size or (not filtered and stored < wanted):
    raise UsageError('%s: key %s declares %s of data, but the file stores %s of it '
                     '(truncated or damaged)' % (path, key, _size(wanted), _size(min(
                         stored, file_size))))


def _png_size(data):
  if len(data) < 24 or data[12:16] != b'IHDR':
    raise ValueError('PNG without its IHDR header')
  width, height = struct.unpack('>II', data[16:24])
  return 1, height, width


# JPEG start-of-frame markers; C4, C8 and CC are other segments.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data):
  offset = 2
  while offset + 4 <= len(data):
    if data[offset] != 0xFF:
      raise ValueError('JPEG segment without a marker at byte %d' % offset)
    marker = data[offset + 1]
    if marker == 0xFF:  # Fill byte.
      offset += 1
      continue
    if marker in (0x01,) or 0xD0 <= marker <= 0xD8:  # Markers without a length.
      offset += 2
      continue
    length = struct.unpack('>H', data[offset + 2:offset + 4])[0]
    if marker in _JPEG_FRAMES:
      if offset + 9 > len(data):
        break
      height, width = struct.unpack('>HH', data[offset + 5:offset + 9])
      return 1, height, width
    offset += 2 + length
  raise ValueError('JPEG without a frame header')


def _gif_sub_blocks_end(data, offset):
  """The offset after a chain of GIF data sub-blocks starting at ``offset``."""
  while offset < len(data) and data[offset]:
    offset += 1 + data[offset]
  return offset + 1


def _gif_size(data):
  """(frames, screen height, screen width); every frame decodes at screen size."""
  if len(data) < 13:
    raise ValueError('GIF shorter than its header')
  width, height, packed = struct.unpack('<HHB', data[6:11])
  offset = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
  frames = 0
  while offset < len(data) and data[offset] != 0x3B:  # 0x3B: the trailer.
    if data[offset] == 0x21:  # Extension: label, then sub-blocks.
      offset = _gif_sub_blocks_end(data, offset + 2)
    elif data[offset] == 0x2C:  # Image: descriptor, colour table, LZW size, data.
      if offset + 10 > len(data):
        break
      frames += 1
      local = data[offset + 9]
      offset += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
      offset = _gif_sub_blocks_end(data, offset)
    else:
      raise ValueError('GIF block of unknown kind 0x%02x at byte %d' % (data[offset], offset))
  return max(frames, 1), height, width


def _bmp_size(data):
  if len(data) < 26:
    raise ValueError('BMP shorter than its header')
  width, height = struct.unpack('<ii', data[18:26])
  return 1, abs(height), abs(width)


_IMAGE_FORMATS = (
    (b'\x89PNG\r\n\x1a\n', _png_size),
    (b'\xff\xd8\xff', _jpeg_size),
    (b'GIF87a', _gif_size),
    (b'GIF89a', _gif_size),
    (b'BM', _bmp_size),
)


def read_image_file(path):
  """The bytes of image file ``path`` (one of the ``images`` setting) once its size and
  declared dimensions are within MAX_IMAGE_FILE_BYTES and MAX_IMAGE_PIXELS."""
  try:
    size = os.path.getsize(path)
    if size > MAX_IMAGE_FILE_BYTES:
      raise SettingError('{images} %s: file is %s; the limit is %s',
                         path, _size(size), _size(MAX_IMAGE_FILE_BYTES))
    with open(path, 'rb') as stream:
      data = stream.read()
  except OSError as error:
    raise SettingError('{images} %s: %s', path, error.strerror) from None
  if not data:
    raise SettingError('{images} %s: file is empty', path)
  try:
    read_size = next((read for magic, read in _IMAGE_FORMATS if data.startswith(magic)), None)
    if read_size is None:
      raise ValueError('not a JPEG, PNG, GIF or BMP file')
    frames, height, width = read_size(data)  # The header's; ValueError when it is cut short.
  except (ValueError, struct.error) as error:
    raise SettingError('{images} %s: not a decodable image (%s)', path, error) from None
  pixels = frames * height * width
  if not pixels or pixels > MAX_IMAGE_PIXELS:
    raise SettingError('{images} %s: declares %s%dx%d pixels; the limit is %d pixels', path,
                       '%d frames of ' % frames if frames > 1 else '', width, height,
                       MAX_IMAGE_PIXELS)
  return data


def checkpoint_oversized_because(prefix, shapes, dtypes):
  """Why checkpoint ``prefix``, whose index declares tensors ``shapes`` (name -> shape) of
  ``dtypes`` (name -> tf.DType), must not be read into memory, or None."""
  data_bytes = sum(os.path.getsize(path) for path in glob.glob(
      glob.escape(prefix) + '.data-?????-of-?????'))
  declared = 0
  for name, shape in shapes.items():
    dtype = dtypes[name]
    if any(dimension < 0 for dimension in shape):
      return 'its index gives tensor %s the shape %s' % (name, list(shape))
    if dtype.is_numpy_compatible and np.dtype(dtype.as_numpy_dtype).kind in 'biufc':  # Stored whole.
      declared += math.prod(map(int, shape)) * dtype.size
  if declared > MAX_CHECKPOINT_BYTES:
    return 'its index declares %s of tensors; the limit is %s' % (
        _size(declared), _size(MAX_CHECKPOINT_BYTES))
  if declared > data_bytes:
    return 'its index declares %s of tensors, its data files hold %s' % (
        _size(declared), _size(data_bytes))
  return None
