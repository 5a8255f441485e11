"""The embedded default dataset: synthetic SIGNS-format hand signs, drawn with numpy.

Each image shows one hand raising 0 to 5 of its five fingers (any subset, thumb included); the label is
how many. Pose, skin, background, light and noise vary, so raw pixels are far from linearly separable.
``python -m legacy_resnet.data.synthetic_signs --output_dir DIR`` writes the pair of files.
"""

import dataclasses
import functools
import io
import os
import sys

import h5py
import numpy as np

from legacy_resnet.data import signs_data
from legacy_resnet.core import atomic_files
from legacy_resnet.core import cli
from legacy_resnet.core.errors import SettingError

NUM_CLASSES = 6
CLASS_VALUES = np.arange(NUM_CLASSES, dtype=np.int64)
NUM_TRAIN, NUM_TEST, IMAGE_SIZE = 1200, 600, 64  # the default set
TRAIN_STREAM, TEST_STREAM = 0, 1
_STREAMS = {'train': TRAIN_STREAM, 'test': TEST_STREAM}
# Images drawn together: numpy works on whole batches, memory stays around 10 MB.
_BATCH = 64

# The hand in its own frame: palm centre at the origin, fingers towards -y, lengths
# in palm radii. Every part is a capsule (a segment with a radius).
_PALM = np.array([[0.0, -0.1], [0.0, 0.15]], np.float32)
_PALM_RADIUS = 0.62
_WRIST = np.array([[0.0, 0.3], [0.0, 4.0]], np.float32)  # long enough to leave the image
_WRIST_RADIUS = 0.45
# The parts, in order: palm, wrist, then the five fingers.
_WRIST_INDEX, _FIRST_FINGER = 1, 2
# Thumb, index, middle, ring, little: base x, base y, degrees from vertical, length.
_RAISED = np.array([[-0.55, 0.10, -65.0, 0.75],
                    [-0.42, -0.48, -20.0, 1.00],
                    [-0.14, -0.55, -7.0, 1.10],
                    [0.14, -0.52, 7.0, 1.02],
                    [0.42, -0.44, 20.0, 0.82]], np.float32)
# Folded: a knuckle bump for each finger; the thumb lies across the palm.
_FOLDED = np.vstack([[-0.5, 0.2, 60.0, 0.5],
                     np.c_[_RAISED[1:, :3], np.full(4, 0.1)]]).astype(np.float32)
_FINGER_RADIUS = (0.13, 0.16)
_MARGIN = 2.0  # pixels kept between any finger and the image border

_SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.89, 0.68, 0.55], [0.78, 0.57, 0.42],
                        [0.62, 0.43, 0.30], [0.45, 0.31, 0.22], [0.98, 0.87, 0.77]],
                       np.float32)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_TEXTURE_CELLS = 5
# Skin tones of the shifted style, none of them in _SKIN_TONES.
_OTHER_SKIN_TONES = np.array([[0.33, 0.22, 0.16], [0.86, 0.56, 0.47], [0.70, 0.60, 0.42],
                              [1.00, 0.84, 0.82], [0.54, 0.35, 0.26]], np.float32)
_CLUTTER_SHAPES = 8
_BLUR_RADIUS = 4  # pixels of the blur kernel on each side (2.7 sigmas at the largest)


@dataclasses.dataclass(frozen=True)
class Style:
  """How the images of a set look: the (low, high) ranges each image draws its own value
  from, or the largest deviation either way; a 0 or None switches a transform off."""
  name: str = 'default'
  hand_scale: tuple = (0.21, 0.27)  # palm radius, as a fraction of the image side
  rotation: float = 25.0  # degrees
  centre_x: tuple = (0.4, 0.6)  # palm centre, as fractions of the side (then moved inside)
  centre_y: tuple = (0.6, 0.7)
  skin_tones: np.ndarray = dataclasses.field(default_factory=lambda: _SKIN_TONES)  # [K, 3]
  skin_tint: tuple = (0.85, 1.08)  # brightness of the tone
  gradient: float = 0.15  # background brightness tilt across the image
  blotches: float = 0.08  # amplitude of the background's soft blotches
  clutter: float = 0.0  # share of images whose background is cluttered with shapes
  exposure: tuple = (0.8, 1.15)
  light_strength: tuple = (0.0, 0.5)  # a light from a random side
  white_balance: float = 0.0  # each colour channel scaled by up to 1 +- this
  blur: tuple = None  # Gaussian sigma, pixels
  noise: tuple = (0.005, 0.035)  # standard deviation
  jpeg_quality: tuple = None
  # Not 0: extra random numbers of its own, so a style's hands are not the default's again.
  stream: int = 0


DEFAULT_STYLE = Style()
# Another camera, room, light and hand, with ranges the default never reaches.
SHIFTED_STYLE = Style(
    name='shifted', hand_scale=(0.16, 0.32), rotation=60.0, centre_x=(0.2, 0.8),
    centre_y=(0.3, 0.85), skin_tones=_OTHER_SKIN_TONES, skin_tint=(0.8, 1.1),
    gradient=0.35, blotches=0.15, clutter=0.7, exposure=(0.6, 1.35),
    light_strength=(0.2, 0.8), white_balance=0.2, blur=(0.0, 1.3), noise=(0.02, 0.06),
    jpeg_quality=(20, 60), stream=1)
STYLES = {style.name: style for style in (DEFAULT_STYLE, SHIFTED_STYLE)}


def style_named(style):
  """The Style of ``style``, a Style or one of the names of STYLES."""
  if isinstance(style, Style):
    return style
  if style not in STYLES:
    raise SettingError('{style} %s: unknown (known: %s)', style, ', '.join(STYLES))
  return STYLES[style]


@functools.lru_cache(maxsize=4)
def _pixel_centres(size):
  """(xs, ys) float32 [size, size] of pixel centres, in pixels; never modified."""
  ys, xs = (np.mgrid[0:size, 0:size] + 0.5).astype(np.float32)
  return xs, ys


def _hands(rng, counts, size, style):
  """(segments float32 [B, 7, 2, 2], radii float32 [B, 7]) in pixels of palm, wrist and the
  five fingers of hands raising ``counts`` [B] fingers: drawn in the hand's own frame, then
  scaled, rotated, mirrored and moved into a size x size image with all but the wrist in it."""
  batch = len(counts)
  # A random set of counts[i] raised fingers: the counts[i] lowest random ranks.
  raised = np.argsort(np.argsort(rng.random((batch, 5)), axis=1), axis=1) < counts[:, None]
  slots = np.where(raised[..., None], _RAISED, _FOLDED)
  angles = np.radians(slots[..., 2] + rng.uniform(-6.0, 6.0, (batch, 5)))
  lengths = slots[..., 3] * rng.uniform(0.9, 1.1, (batch, 5))
  bases = slots[..., :2]
  tips = bases + lengths[..., None] * np.stack([np.sin(angles), -np.cos(angles)], axis=-1)
  fingers = np.stack([bases, tips], axis=2)
  fixed = np.broadcast_to(np.stack([_PALM, _WRIST]), (batch, 2, 2, 2))
  segments = np.concatenate([fixed, fingers], axis=1).astype(np.float32)
  finger_radius = rng.uniform(*_FINGER_RADIUS, (batch, 1))
  radii = np.concatenate([np.full((batch, 1), _PALM_RADIUS), np.full((batch, 1), _WRIST_RADIUS),
                          np.repeat(finger_radius, 5, axis=1)], axis=1).astype(np.float32)
  scale = size * rng.uniform(*style.hand_scale, batch)
  angle = np.radians(rng.uniform(-style.rotation, style.rotation, batch))
  mirror = rng.choice([-1.0, 1.0], batch)
  cos, sin = np.cos(angle), np.sin(angle)
  # Columns are the images of the hand frame's x and y axes.
  axes = np.stack([np.stack([cos * mirror, sin * mirror], -1), np.stack([-sin, cos], -1)], -1)
  points = np.einsum('bij,bpkj->bpki', axes * scale[:, None, None], segments)
  centre = np.stack([rng.uniform(*style.centre_x, batch), rng.uniform(*style.centre_y, batch)], -1)
  points += centre[:, None, None, :] * size
  radii = radii * scale[:, None]
  low, high = _hand_extent(points, radii, _MARGIN)
  points += (np.maximum(0.0, -low) - np.maximum(0.0, high - size))[:, None, None, :]
  return points.astype(np.float32), radii.astype(np.float32)


def _hand_extent(segments, radii, margin=0.0):
  """(low, high) [B, 2]: the corners of the box, ``margin`` pixels wider, around palm and
  fingers [B, P, 2, 2] of radii [B, P] (the wrist, which runs out of the image, left out)."""
  hand = np.arange(segments.shape[1]) != _WRIST_INDEX
  reach = radii[:, hand, None, None] + margin
  return (segments[:, hand] - reach).min(axis=(1, 2)), (segments[:, hand] + reach).max(axis=(1, 2))


def _signed_distances(segments, radii, size):
  """float32 [B, P, size, size]: pixel distance outside each capsule (negative inside)."""
  xs, ys = _pixel_centres(size)
  start_x, start_y = segments[:, :, 0, 0, None, None], segments[:, :, 0, 1, None, None]
  step = segments[:, :, 1] - segments[:, :, 0]
  step_x, step_y = step[..., 0, None, None], step[..., 1, None, None]
  from_x, from_y = xs - start_x, ys - start_y
  along = np.clip((from_x * step_x + from_y * step_y) /
                  (step_x * step_x + step_y * step_y + 1e-6), 0.0, 1.0)
  across_x, across_y = from_x - along * step_x, from_y - along * step_y
  return np.sqrt(across_x * across_x + across_y * across_y) - radii[..., None, None]


def _backgrounds(rng, skin, size, style):
  """float32 [B, size, size, 3]: coloured, shaded, blotchy backgrounds (on ``style.clutter``
  of them bars and blobs of other colours) whose brightness stays clearly apart from the
  skin's, so the hand's outline is always visible."""
  batch = len(skin)
  skin_luma = skin @ _LUMA
  gap = rng.uniform(0.22, 0.45, batch) * rng.choice([-1.0, 1.0], batch)
  gap = np.where(np.abs(skin_luma + gap - 0.5) > 0.45, -gap, gap)
  tint = rng.random((batch, 3))
  chroma = tint - (tint @ _LUMA)[:, None]  # zero brightness: colour only
  colour = ((skin_luma + gap)[:, None] + rng.uniform(0.3, 1.0, (batch, 1)) * chroma
            ).astype(np.float32)
  xs, ys = (grid / size - 0.5 for grid in _pixel_centres(size))
  tilt = rng.uniform(-style.gradient, style.gradient, (batch, 2, 3)).astype(np.float32)
  gradient = xs[..., None] * tilt[:, None, None, 0] + ys[..., None] * tilt[:, None, None, 1]
  cells = rng.normal(0.0, 1.0, (batch, 3, _TEXTURE_CELLS, _TEXTURE_CELLS))
  cells *= rng.uniform(0.0, style.blotches, (batch, 1, 1, 1))
  # Bilinear weights [size, cells] taking the grid of cells to size pixels.
  positions = np.linspace(0.0, _TEXTURE_CELLS - 1.0, size, dtype=np.float32)
  upsample = np.clip(1.0 - np.abs(positions[:, None] - np.arange(_TEXTURE_CELLS)), 0.0, 1.0)
  texture = (upsample @ cells.astype(np.float32) @ upsample.T).transpose(0, 2, 3, 1)
  background = colour[:, None, None, :] + gradient + texture
  if not style.clutter:
    return background
  ends = rng.uniform(-0.1, 1.1, (batch, _CLUTTER_SHAPES, 2, 2)) * size
  ends[:, :, 1] = ends[:, :, 0] + (ends[:, :, 1] - ends[:, :, 0]) * rng.uniform(
      0.05, 0.5, (batch, _CLUTTER_SHAPES, 1))
  radii = (rng.uniform(0.02, 0.12, (batch, _CLUTTER_SHAPES)) * size).astype(np.float32)
  distances = _signed_distances(ends.astype(np.float32), radii, size)
  shades = rng.uniform(-0.12, 0.12, (batch, _CLUTTER_SHAPES, 1)) + rng.uniform(
      -0.25, 0.25, (batch, _CLUTTER_SHAPES, 3)) * 0.5
  shown = rng.random(batch) < style.clutter
  for shape in range(_CLUTTER_SHAPES):
    cover = np.clip(0.5 - distances[:, shape], 0.0, 1.0)[..., None] * shown[:, None, None, None]
    fill = (colour + shades[:, shape])[:, None, None, :]
    background = background + (fill - background) * cover
  return background.astype(np.float32)


def _blurred(rng, images, sigmas):
  """``images`` [B, S, S, 3], each blurred by a Gaussian of sigma (pixels) uniform in ``sigmas``."""
  batch, size = images.shape[:2]
  sigma = np.maximum(rng.uniform(*sigmas, batch), 1e-3)[:, None, None]
  offsets = np.arange(size)[None, :, None] - np.arange(size)[None, None, :]
  weights = np.exp(-0.5 * (offsets / sigma) ** 2) * (np.abs(offsets) <= _BLUR_RADIUS)
  weights = (weights / weights.sum(axis=2, keepdims=True)).astype(np.float32)
  rows = np.einsum('bij,bjwc->biwc', weights, images)
  return np.einsum('bij,bhjc->bhic', weights, rows)


def _through_jpeg(rng, images, qualities):
  """uint8 ``images`` [B, S, S, 3] through JPEG, each at a quality drawn from ``qualities``."""
  from PIL import Image  # pylint: disable=import-outside-toplevel  (shifted style only)
  quality = rng.integers(qualities[0], qualities[1] + 1, len(images))
  out = np.empty_like(images)
  for index, image in enumerate(images):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='JPEG', quality=int(quality[index]))
    out[index] = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert('RGB'))
  return out


def _draw_batch(rng, counts, size, style=DEFAULT_STYLE):
  """(uint8 images [B, size, size, 3] of hands raising ``counts`` [B] fingers, float32
  hand boxes [B, 4] as in ``draw_images``), in ``style``."""
  batch = len(counts)
  segments, radii = _hands(rng, counts, size, style)
  distances = _signed_distances(segments, radii, size)
  # Half a pixel of soft edge anti-aliases without supersampling.
  coverage = np.clip(0.5 - distances.min(axis=1), 0.0, 1.0)[..., None]
  # Finger outlines keep touching fingers apart and show a folded thumb on the palm.
  outline = np.clip(1.0 - np.abs(distances[:, _FIRST_FINGER:]) / 0.9, 0.0, 1.0).max(axis=1)[..., None]
  tone = style.skin_tones[rng.integers(len(style.skin_tones), size=batch)]
  tint = rng.uniform(*style.skin_tint, (batch, 1)) * rng.uniform(0.94, 1.06, (batch, 3))
  skin = (tone * tint.astype(np.float32))[:, None, None, :]
  darkening = rng.uniform(0.25, 0.45, (batch, 1, 1, 1)).astype(np.float32)
  hand = skin * (1.0 - darkening * outline)
  background = _backgrounds(rng, skin[:, 0, 0], size, style)
  # Exposure times a light falling from a random side.
  xs, ys = (grid / size - 0.5 for grid in _pixel_centres(size))
  direction = rng.uniform(0.0, 2.0 * np.pi, batch)[:, None, None]
  strength = rng.uniform(*style.light_strength, batch)[:, None, None]
  exposure = rng.uniform(*style.exposure, batch)[:, None, None]
  lighting = exposure * (1.0 + strength * (np.cos(direction) * xs + np.sin(direction) * ys))
  image = (background + (hand - background) * coverage) * lighting.astype(np.float32)[..., None]
  # The default style draws no random numbers for what it leaves off, so its images
  # stay the same as before styles existed.
  if style.white_balance:
    image = image * rng.uniform(1.0 - style.white_balance, 1.0 + style.white_balance,
                                (batch, 1, 1, 3)).astype(np.float32)
  if style.blur:
    image = _blurred(rng, image, style.blur)
  noise_level = rng.uniform(*style.noise, (batch, 1, 1, 1)).astype(np.float32)
  image += rng.standard_normal(image.shape, dtype=np.float32) * noise_level
  image = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
  if style.jpeg_quality:
    image = _through_jpeg(rng, image, style.jpeg_quality)
  boxes = np.clip(np.concatenate(_hand_extent(segments, radii), axis=1), 0.0, size)
  return image, boxes.astype(np.float32)


def draw_images(count, seed, stream, image_size=IMAGE_SIZE, with_boxes=False,
                style=DEFAULT_STYLE):
  """(uint8 images [count, S, S, 3], int64 labels [count]) with S = image_size, and with
  ``with_boxes`` float32 hand boxes [count, 4]: (x0, y0, x1, y1) in pixels around palm and fingers.

  Classes are balanced (counts differ by at most one) and shuffled. ``stream`` (TRAIN_STREAM
  or TEST_STREAM) gives each set its own random numbers. ``style``: a Style or a name of STYLES.
  """
  style = style_named(style)
  rng = np.random.default_rng([seed, stream] + ([style.stream] if style.stream else []))
  labels = rng.permutation(np.arange(count) % NUM_CLASSES).astype(np.int64)
  images = np.empty((count, image_size, image_size, 3), np.uint8)
  boxes = np.empty((count, 4), np.float32)
  for start in range(0, count, _BATCH):
    images[start:start + _BATCH], boxes[start:start + _BATCH] = _draw_batch(
        rng, labels[start:start + _BATCH], image_size, style)
  return (images, labels, boxes) if with_boxes else (images, labels)


def class_names():
  """The class names of every synthetic split, in label order."""
  return signs_data.class_names(CLASS_VALUES)


def generate_split(name, count, seed=0, image_size=IMAGE_SIZE, style=DEFAULT_STYLE):
  """The Split ``name`` ('train' or 'test', each its own random stream) of ``count`` signs."""
  style = style_named(style)
  images, labels = draw_images(count, seed, _STREAMS[name], image_size, style=style)
  source = 'synthetic signs (%s, seed %d%s)' % (
      name, seed, '' if style == DEFAULT_STYLE else ', %s style' % style.name)
  return signs_data.make_split(images, CLASS_VALUES, labels, source)


def generate(num_train=NUM_TRAIN, num_test=NUM_TEST, seed=0, image_size=IMAGE_SIZE):
  """(train Split, test Split) of synthetic signs, same seed -> same pixels."""
  return (generate_split('train', num_train, seed, image_size),
          generate_split('test', num_test, seed, image_size))


def write_signs_files(output_dir, num_train=NUM_TRAIN, num_test=NUM_TEST, seed=0,
                      image_size=IMAGE_SIZE, style=DEFAULT_STYLE):
  """Writes train_signs.h5 and test_signs.h5 (uint8 x [N, S, S, 3], int64 y [N], int64
  list_classes [6]) to ``output_dir``; each file appears whole or not at all."""
  style = style_named(style)
  try:
    os.makedirs(output_dir, exist_ok=True)
  except OSError as error:
    raise SettingError('{output_dir} %s: cannot create the folder (%s)', output_dir,
                       error.strerror) from None
  for prefix, count, filename in (('train', num_train, signs_data.TRAIN_FILE),
                                  ('test', num_test, signs_data.TEST_FILE)):
    images, labels = draw_images(count, seed, _STREAMS[prefix], image_size, style=style)
    with atomic_files.replacing(os.path.join(output_dir, filename), suffix='.h5') as temporary:
      with h5py.File(temporary, 'w') as out:
        out.create_dataset('%s_set_x' % prefix, data=images)
        out.create_dataset('%s_set_y' % prefix, data=labels)
        out.create_dataset('list_classes', data=CLASS_VALUES)


def main(argv):
  parser = cli.ArgumentParser(prog='python -m legacy_resnet.data.synthetic_signs',
                              description='Write synthetic SIGNS-format files.')
  parser.add_argument('--output_dir', required=True)
  parser.add_argument('--num_train', type=cli.positive_int, default=NUM_TRAIN)
  parser.add_argument('--num_test', type=cli.positive_int, default=NUM_TEST)
  parser.add_argument('--seed', type=cli.non_negative_int, default=0)
  parser.add_argument('--style', choices=sorted(STYLES), default=DEFAULT_STYLE.name,
                      help='default: the embedded set\'s look; shifted: backgrounds, '
                      'light, colour casts, skin tones, hand sizes and places, blur, noise '
                      'and JPEG compression the default never has (default: %(default)s)')
  settings = parser.parse_args(argv)
  write_signs_files(settings.output_dir, settings.num_train, settings.num_test, settings.seed,
                    style=settings.style)


if __name__ == '__main__':
  sys.exit(cli.run(main, sys.argv[1:]))
