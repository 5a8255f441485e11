"""A corpus of hostile input files, generated from a seed (nothing binary is committed):
SIGNS HDF5 files, images and checkpoints that are truncated, bit-flipped, of the
wrong dtype, or declare far more data than they hold.

Each case is (kind, path); ``kind`` says how the file was made, and kinds starting
with 'flipped' may by chance still be valid files.
"""

import os
import struct
import zlib

import h5py
import numpy as np
import tensorflow as tf

IMAGE_SIZE = 16
NUM_CLASSES = 6


def signs_arrays(prefix, count, rng, classes=NUM_CLASSES):
  return {'%s_set_x' % prefix: rng.integers(0, 255, (count, IMAGE_SIZE, IMAGE_SIZE, 3),
                                            dtype=np.uint8),
          '%s_set_y' % prefix: np.arange(count) % classes,
          'list_classes': np.arange(classes)}


def write_h5(path, content):
  """``content``: key -> array, or key -> callable(h5py.File, key) for odd datasets."""
  with h5py.File(path, 'w') as out:
    for key, value in content.items():
      if callable(value):
        value(out, key)
      else:
        out.create_dataset(key, data=value)


def write_signs_folder(folder, rng, classes=NUM_CLASSES):
  """train_signs.h5 (12 images) and test_signs.h5 (6 images) of IMAGE_SIZE pixels."""
  os.makedirs(folder, exist_ok=True)
  for prefix, count in (('train', 12), ('test', 6)):
    write_h5(os.path.join(folder, '%s_signs.h5' % prefix), signs_arrays(prefix, count, rng,
                                                                         classes))


def flip_bits(data, rng, count, start=0, end=None):
  """``data`` with ``count`` random bits flipped in [start, end)."""
  flipped = bytearray(data)
  end = len(data) if end is None else min(end, len(data))
  for position in rng.integers(start, end, count):
    flipped[position] ^= 1 << int(rng.integers(8))
  return bytes(flipped)


def truncations(data, count):
  """``count`` prefixes of ``data``, from empty to one byte short."""
  return [data[:int(length)] for length in np.linspace(0, len(data) - 1, count)]


def _huge(shape, dtype=np.uint8, **options):
  """A dataset declared with ``shape`` that has no data written."""
  return lambda out, key: out.create_dataset(key, shape=shape, dtype=dtype, **options)


def _declared_larger_than_stored(out, key):
  """A contiguous dataset whose header declares 10**7 images in a small file."""
  out.create_dataset(key, data=np.zeros((2, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8),
                     maxshape=(None, IMAGE_SIZE, IMAGE_SIZE, 3), chunks=True)
  out[key].resize((10 ** 7, IMAGE_SIZE, IMAGE_SIZE, 3))


def odd_x_datasets():
  """name -> a replacement for the pixels: wrong dtypes and huge declared shapes."""
  return {
      'dtype string': np.full((12, IMAGE_SIZE, IMAGE_SIZE, 3), b'a'),
      'dtype compound': np.zeros((12,), dtype=[('a', np.int32), ('b', np.float64)]),
      'dtype vlen': lambda out, key: out.create_dataset(
          key, data=np.array(['x'] * 12, dtype=object), dtype=h5py.string_dtype()),
      'dtype complex': np.zeros((12, IMAGE_SIZE, IMAGE_SIZE, 3), np.complex64),
      'dtype bool': np.zeros((12, IMAGE_SIZE, IMAGE_SIZE, 3), bool),
      'dtype float64 inf': np.full((12, IMAGE_SIZE, IMAGE_SIZE, 3), np.inf),
      'dtype int64 negative': np.full((12, IMAGE_SIZE, IMAGE_SIZE, 3), -5, np.int64),
      'scalar': np.float32(3),
      'huge contiguous 114 GiB': _huge((10 ** 7, 64, 64, 3)),
      'huge float64 1 EiB': _huge((2 ** 40, 64, 64, 3), np.float64),
      'huge chunked gzip': _huge((10 ** 6, 64, 64, 3), compression='gzip', chunks=(1, 64, 64, 3)),
      'huge fill value': _huge((10 ** 5, 64, 64, 3), fillvalue=7),
      'declared 12 MiB, nothing stored': _huge((1000, 64, 64, 3)),
      'external storage /dev/zero': _huge((12, IMAGE_SIZE, IMAGE_SIZE, 3),
                                          external=[('/dev/zero', 0, 12 * IMAGE_SIZE ** 2 * 3)]),
      'just over the limit': _huge((2 ** 18 + 1, 64, 64, 1)),
      'resized beyond its data': _declared_larger_than_stored,
      'empty shape': np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8),
  }


def odd_other_datasets(prefix):
  """(key, name, replacement) for the label and class keys."""
  return [
      ('%s_set_y' % prefix, 'huge labels', _huge((10 ** 10,), np.int64)),
      ('%s_set_y' % prefix, 'string labels', np.array([b'a'] * 12)),
      ('list_classes', 'huge classes', _huge((10 ** 10,), np.int64)),
      ('list_classes', 'float classes', np.array([0.5, 1.5])),
      ('%s_set_y' % prefix, 'labels nan', np.full(12, np.nan)),
  ]


def h5_cases(folder, rng, prefix, count_flipped=50, count_truncated=30):
  """[(kind, path)] of the HDF5 corpus of SIGNS files with ``prefix`` ('train' or
  'test') keys, written under ``folder``."""
  os.makedirs(folder, exist_ok=True)
  cases = []

  def add(kind, data=None, content=None):
    path = os.path.join(folder, '%03d.h5' % len(cases))
    if content is not None:
      write_h5(path, content)
    else:
      with open(path, 'wb') as out:
        out.write(data)
    cases.append((kind, path))

  base_path = os.path.join(folder, 'base.h5')
  write_h5(base_path, signs_arrays(prefix, 12, rng))
  with open(base_path, 'rb') as stream:
    base = stream.read()
  os.remove(base_path)
  for data in truncations(base, count_truncated):
    add('truncated', data)
  for index in range(count_flipped):
    # Half in the first 2 KB (superblock, object headers), half anywhere.
    end = 2048 if index % 2 else None
    add('flipped', flip_bits(base, rng, 1 + index % 8, end=end))
  for name, value in sorted(odd_x_datasets().items()):
    content = signs_arrays(prefix, 12, rng)
    content['%s_set_x' % prefix] = value
    add(name, content=content)
  for key, name, value in odd_other_datasets(prefix):
    content = signs_arrays(prefix, 12, rng)
    content[key] = value
    add(name, content=content)
  add('zero-size', b'')
  add('text', b'train_set_x = 1\n' * 10)
  add('random bytes', rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
  add('signature then garbage', b'\x89HDF\r\n\x1a\n' + rng.integers(
      0, 256, 4096, dtype=np.uint8).tobytes())
  return cases


# A 1x1 GIF: header, global colour table of two entries, graphic control extension,
# one image descriptor with its LZW data, trailer.
GIF_1X1 = (b'GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00'
           b'!\xf9\x04\x01\x00\x00\x00\x00'
           b',\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;')


def bmp(height, width, pixels=b'', declared_height=None):
  """A 24-bit BMP; ``declared_height`` may lie about the height."""
  row = (3 * width + 3) // 4 * 4
  body = pixels or bytes(row * height)
  header = struct.pack('<2sIHHI', b'BM', 54 + len(body), 0, 0, 54)
  info = struct.pack('<IiiHHIIiiII', 40, width,
                     height if declared_height is None else declared_height, 1, 24, 0,
                     len(body), 2835, 2835, 0, 0)
  return header + info + body


def png_chunk(kind, payload):
  return (struct.pack('>I', len(payload)) + kind + payload +
          struct.pack('>I', zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_declaring(width, height, with_data=False):
  """A PNG whose IHDR (with a correct CRC) declares width x height RGB pixels; with
  ``with_data``, its IDAT really holds that many zero pixels (a decompression bomb)."""
  header = png_chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
  data = b''
  if with_data:
    compressor = zlib.compressobj(9)
    row = bytes(1 + 3 * width)
    data = b''.join(compressor.compress(row) for _ in range(height)) + compressor.flush()
  return b'\x89PNG\r\n\x1a\n' + header + png_chunk(b'IDAT', data) + png_chunk(b'IEND', b'')


def _jpeg_with_size(jpeg, height, width):
  """``jpeg`` with its frame header's height and width replaced."""
  data = bytearray(jpeg)
  offset = 2
  while data[offset + 1] not in (0xC0, 0xC1, 0xC2):
    offset += 2 + struct.unpack('>H', bytes(data[offset + 2:offset + 4]))[0]
  data[offset + 5:offset + 9] = struct.pack('>HH', height, width)
  return bytes(data)


def gif_frames(width, height, frames):
  """A GIF of ``frames`` 1x1 images on a width x height screen; every frame decodes
  at screen size."""
  head = GIF_1X1[:6] + struct.pack('<HH', width, height) + GIF_1X1[10:19]
  frame = GIF_1X1[19:-1]
  return head + frame * frames + b';'


def image_cases(folder, rng, count_flipped=8, count_truncated=40):
  """[(kind, path)] of the image corpus: bombs, truncated and bit-flipped images,
  zero-size and non-image files with image names."""
  os.makedirs(folder, exist_ok=True)
  cases = []

  def add(kind, data, extension):
    path = os.path.join(folder, '%03d.%s' % (len(cases), extension))
    with open(path, 'wb') as out:
      out.write(data)
    cases.append((kind, path))

  pixels = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
  valid = {'png': tf.io.encode_png(pixels).numpy(), 'jpg': tf.io.encode_jpeg(pixels).numpy(),
           'gif': GIF_1X1, 'bmp': bmp(24, 24, pixels[::-1, :, ::-1].tobytes())}
  add('bomb png header 60000x60000', png_declaring(60000, 60000), 'png')
  add('bomb png header 2^31x1', png_declaring(2 ** 31 - 1, 1), 'png')
  add('bomb png 6000x6000 of zeros', png_declaring(6000, 6000, with_data=True), 'png')
  add('bomb jpeg 65500x65500', _jpeg_with_size(valid['jpg'], 65500, 65500), 'jpg')
  add('bomb gif screen 65535x65535', gif_frames(65535, 65535, 1), 'gif')
  add('bomb gif 900 frames of 200x200', gif_frames(200, 200, 900), 'gif')
  add('bomb bmp 100000x100000', bmp(1, 1, declared_height=100000)[:18] +
      struct.pack('<i', 100000) + bmp(1, 1, declared_height=100000)[22:], 'bmp')
  add('bomb bmp height -2^31', bmp(1, 1, declared_height=-2 ** 31), 'bmp')
  add('zero dimensions png', png_declaring(0, 0), 'png')
  for extension, data in sorted(valid.items()):
    for cut in truncations(data, count_truncated // len(valid)):
      add('truncated %s' % extension, cut, extension)
    for index in range(count_flipped // len(valid)):
      add('flipped %s' % extension, flip_bits(data, rng, 1 + index % 4, end=64), extension)
  for extension in ('png', 'jpg', 'gif', 'bmp'):
    add('zero-size', b'', extension)
  add('text', b'hello, this is not an image\n', 'png')
  add('html', b'<html><body>no</body></html>', 'jpg')
  add('random bytes', rng.integers(0, 256, 2048, dtype=np.uint8).tobytes(), 'jpeg')
  add('hdf5 named png', b'\x89HDF\r\n\x1a\n' + bytes(64), 'png')
  add('gif without frames', GIF_1X1[:19] + b';', 'gif')
  add('png magic only', b'\x89PNG\r\n\x1a\n', 'png')
  add('jpeg magic only', b'\xff\xd8\xff', 'jpg')
  return cases
