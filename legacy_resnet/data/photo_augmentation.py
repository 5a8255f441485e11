"""Augmentation for photographs taken elsewhere: random resized crops, rotation, colour
jitter (hue, saturation, white balance), blur and noise, on numpy batches.

Each transform draws its own value per image from the batch's random generator, so a
batch stays a pure function of (seed, step) (see ``batching``). The chosen images are
transformed together: one bilinear resampling for crop and rotation, one 3x3 colour
matrix per image, a separable blur as shifted sums.

``PRESETS`` names the recipes of ``train_graph.py --augmentation``, each its transforms
and its training length: ``default`` leaves every transform here off (the run is what it
was before they existed), ``photo`` turns them all on for half the images, at strengths
usual for photographs.
"""

import collections

import numpy as np

PhotoAugmentation = collections.namedtuple(
    'PhotoAugmentation',
    ['crop_scale', 'rotation', 'hue', 'saturation', 'white_balance', 'blur', 'noise',
     'fraction'],
    defaults=(1.0,))
PhotoAugmentation.__doc__ = """The photograph transforms' strengths (0 switches one off) and
the share of images they reach.

- ``crop_scale``: each image is zoomed by a factor between 1 / (1 + crop_scale) and
  1 + crop_scale (log-uniform) and moved at random as far as keeps the crop inside the
  image (zooming in) or the image inside the view (zooming out, the border repeated).
- ``rotation``: turned by up to this many degrees either way.
- ``hue``: colours turned around the grey axis by up to this many degrees.
- ``saturation``: colourfulness scaled by 1 +- up to this.
- ``white_balance``: each colour channel scaled by 1 +- up to this.
- ``blur``: a Gaussian blur of sigma up to this many pixels.
- ``noise``: Gaussian pixel noise of standard deviation up to this.
- ``fraction``: the share of images, drawn per image, that get the transforms; the
  others pass unchanged, so the network keeps seeing the training set's own style.
"""

NO_PHOTO_AUGMENTATION = PhotoAugmentation(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
Recipe = collections.namedtuple('Recipe', ['photo', 'epochs'])
PRESETS = {
    # With a learning rate of 3e-3, the epochs that keep the default job within its time
    # budget on a 2-core AVX2-only CPU (bench/README.md, "The default job").
    'default': Recipe(NO_PHOTO_AUGMENTATION, epochs=16.0),
    # Colour and geometry changes that photographs taken with other cameras, light and
    # framing show, on half the images, over twice the default job's epochs; trained on
    # all images or for 16 epochs it cost in-domain accuracy
    # (bench/results/2026-12-05-photo-recipe.md).
    'photo': Recipe(PhotoAugmentation(crop_scale=0.4, rotation=40.0, hue=25.0, saturation=0.5,
                                      white_balance=0.25, blur=1.2, noise=0.04, fraction=0.5),
                    epochs=32.0),
}
DEFAULT_PRESET = 'default'
FLAGS = {field: 'photo_fraction' if field == 'fraction' else 'random_' + field
         for field in PhotoAugmentation._fields}
_BLUR_RADIUS = 4  # pixels of the blur kernel each side
# RGB to YIQ: Y is brightness, (I, Q) the colour plane that hue turns.
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                np.float64)
_RGB = np.linalg.inv(_YIQ)


def _warp(images, augmentation, rng):
  """Crop (zoom and move) and rotation of each image, one bilinear resampling."""
  batch, height, width, _ = images.shape
  limit = np.log1p(augmentation.crop_scale)
  zoom = np.exp(rng.uniform(-limit, limit, batch))
  angle = np.radians(rng.uniform(-augmentation.rotation, augmentation.rotation, batch))
  sizes = np.array([height, width], np.float64)
  # How far the view's centre can move: the crop stays in the image, or the image in
  # the view.
  room = np.abs(sizes - sizes / zoom[:, None]) / 2.0
  moves = rng.uniform(-1.0, 1.0, (batch, 2)) * room
  ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
  ys, xs = ys - (height - 1) / 2.0, xs - (width - 1) / 2.0
  cos = (np.cos(angle) / zoom).astype(np.float32)[:, None, None]
  sin = (np.sin(angle) / zoom).astype(np.float32)[:, None, None]
  moves = moves.astype(np.float32)
  source_y = np.clip(cos * ys + sin * xs + ((height - 1) / 2.0 + moves[:, 0, None, None]),
                     0.0, height - 1.0)
  source_x = np.clip(-sin * ys + cos * xs + ((width - 1) / 2.0 + moves[:, 1, None, None]),
                     0.0, width - 1.0)
  top, left = np.floor(source_y).astype(np.int32), np.floor(source_x).astype(np.int32)
  bottom, right = np.minimum(top + 1, height - 1), np.minimum(left + 1, width - 1)
  down, across = (source_y - top)[..., None], (source_x - left)[..., None]
  # Gathers from the images laid out as one list of pixels.
  pixels = images.reshape(-1, images.shape[-1])
  base = (np.arange(batch, dtype=np.int32) * (height * width))[:, None, None]
  top, bottom = base + top * width, base + bottom * width
  upper = pixels[top + left] * (1.0 - across) + pixels[top + right] * across
  lower = pixels[bottom + left] * (1.0 - across) + pixels[bottom + right] * across
  return upper * (1.0 - down) + lower * down


def _colour_matrices(augmentation, rng, batch):
  """float64 [B, 3, 3]: each image's hue turn, saturation and white balance as one
  matrix on RGB column vectors."""
  angle = np.radians(rng.uniform(-augmentation.hue, augmentation.hue, batch))
  saturation = 1.0 + rng.uniform(-augmentation.saturation, augmentation.saturation, batch)
  plane = np.zeros((batch, 3, 3))
  plane[:, 0, 0] = 1.0
  plane[:, 1, 1] = plane[:, 2, 2] = np.cos(angle) * saturation
  plane[:, 1, 2] = -np.sin(angle) * saturation
  plane[:, 2, 1] = np.sin(angle) * saturation
  gains = 1.0 + rng.uniform(-augmentation.white_balance, augmentation.white_balance,
                            (batch, 3))
  return gains[:, :, None] * (_RGB @ plane @ _YIQ)


def _blur(images, sigma_limit, rng):
  """Each image blurred by a Gaussian of sigma uniform in [0, sigma_limit] pixels: a
  separable filter of 2 * _BLUR_RADIUS + 1 taps, as shifted sums (numpy's matrix
  products hand these small sizes to threads, which cost more than they save on a
  busy CPU), the border repeated."""
  batch = len(images)
  sigma = np.maximum(rng.uniform(0.0, sigma_limit, batch), 1e-3)
  offsets = np.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1)
  taps = np.exp(-0.5 * (offsets[None, :] / sigma[:, None]) ** 2)
  taps = (taps / taps.sum(axis=1, keepdims=True)).astype(np.float32)
  out = images
  for axis in (1, 2):
    padding = [(0, 0)] * 4
    padding[axis] = (_BLUR_RADIUS, _BLUR_RADIUS)
    padded = np.pad(out, padding, mode='edge')
    length = out.shape[axis]
    total = np.zeros_like(out)
    for index in range(len(offsets)):
      window = padded[:, index:index + length] if axis == 1 else padded[:, :, index:index + length]
      total += taps[:, index, None, None, None] * window
    out = total
  return out


def is_off(augmentation):
  """Whether the PhotoAugmentation ``augmentation`` changes no image."""
  return not augmentation.fraction or augmentation._replace(fraction=1.0) == NO_PHOTO_AUGMENTATION


def augment(images, augmentation, rng):
  """``images`` float32 [B, H, W, 3] where a share ``augmentation.fraction`` of them,
  drawn per image, get the transforms of the PhotoAugmentation ``augmentation`` that
  are switched on (in its order: geometry, colour, blur, noise), each value drawn per
  image from the numpy Generator ``rng``; not clipped."""
  out = images.astype(np.float32)  # a copy; float64 would take the slow paths
  chosen = np.flatnonzero(rng.random(len(out)) < augmentation.fraction)
  if len(chosen):
    out[chosen] = _transformed(out[chosen], augmentation, rng)
  return out


def _transformed(images, augmentation, rng):
  """Every image of ``images`` float32 [B, H, W, 3] transformed (see ``augment``)."""
  batch = len(images)
  out = images
  if augmentation.crop_scale or augmentation.rotation:
    out = _warp(out, augmentation, rng)
  if augmentation.hue or augmentation.saturation or augmentation.white_balance:
    matrices = _colour_matrices(augmentation, rng, batch).astype(np.float32)
    # Nine multiply-adds per pixel, without the matrix-product threads.
    out = sum(matrices[:, None, None, :, channel] * out[..., channel, None]
              for channel in range(3))
  if augmentation.blur:
    out = _blur(out, augmentation.blur, rng)
  if augmentation.noise:
    level = rng.uniform(0.0, augmentation.noise, (batch, 1, 1, 1)).astype(np.float32)
    out = out + rng.standard_normal(out.shape, dtype=np.float32) * level
  return out.astype(np.float32)
