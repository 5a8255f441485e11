"""Calibrated confidence (pure numpy): a temperature T fitted on a run's validation split
(softmax(log p / T) = softmax(logits / T) keeps the ranking, so the accuracy), the
confidence below which UNSURE_SHARE of that split falls (marked "not sure"), and the
expected calibration error. Training records them in the run's metadata."""

import math

import numpy as np

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.graph import metrics
from legacy_resnet.core.errors import UsageError

METADATA_KEY = 'calibration'
ECE_BINS = 15  # equal-width confidence bins, as in Guo et al. (2017)
UNSURE_SHARE = 0.05
UNSURE_MARK = 'not sure'
# The fit only softens (T >= 1). Sharpening fits the few mistakes of a small validation
# split of the training style, down to T -> 0 when it has none, and a sharpened network
# is surer still on images unlike its training set's (bench/results/2026-12-05-photo-recipe.md).
_LOG_TEMPERATURES = np.linspace(0.0, np.log(20.0), 61)


def scaled(probabilities, temperature):
  """float64 [N, C]: ``probabilities`` [N, C] with their logits divided by ``temperature``."""
  logits = np.log(np.maximum(np.asarray(probabilities, np.float64), metrics.PROBABILITY_FLOOR)) / temperature
  logits -= logits.max(axis=1, keepdims=True)
  exponentials = np.exp(logits)
  return exponentials / exponentials.sum(axis=1, keepdims=True)


def fit_temperature(probabilities, labels):
  """The temperature in [1, 20] that minimizes the cross-entropy of ``labels`` [N]
  under ``probabilities`` [N, C] (a grid over log T, then a golden-section search)."""
  def cross_entropy(log_temperature):
    picked = scaled(probabilities, np.exp(log_temperature))[np.arange(len(labels)), labels]
    return -np.mean(np.log(np.maximum(picked, metrics.PROBABILITY_FLOOR)))
  losses = [cross_entropy(t) for t in _LOG_TEMPERATURES]
  best = int(np.argmin(losses))
  low = _LOG_TEMPERATURES[max(best - 1, 0)]
  high = _LOG_TEMPERATURES[min(best + 1, len(_LOG_TEMPERATURES) - 1)]
  ratio = (math.sqrt(5.0) - 1.0) / 2.0
  for _ in range(30):
    first, second = high - ratio * (high - low), low + ratio * (high - low)
    if cross_entropy(first) <= cross_entropy(second):
      high = second
    else:
      low = first
  return float(np.exp((low + high) / 2.0))


def expected_calibration_error(probabilities, labels, bins=ECE_BINS):
  """The expected calibration error of ``probabilities`` [N, C] for ``labels`` [N] (equal-width bins)."""
  probabilities = np.asarray(probabilities, np.float64)
  confidence = probabilities.max(axis=1)
  right = probabilities.argmax(axis=1) == np.asarray(labels)
  which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
  groups = [which == index for index in range(bins)]
  return float(sum(members.mean() * abs(right[members].mean() - confidence[members].mean())
                   for members in groups if members.any()))


def unsure_threshold(confidences, share=UNSURE_SHARE):
  """The confidence below which ``share`` of ``confidences`` fall (the lower quantile)."""
  return float(np.quantile(np.asarray(confidences, np.float64), share, method='lower'))


def fit(probabilities, labels, split_name='validation'):
  """The calibration a run records, fitted on ``probabilities`` [N, C] and ``labels`` [N]."""
  temperature = fit_temperature(probabilities, labels)
  calibrated = scaled(probabilities, temperature)
  return {'temperature': temperature, 'unsure_below': unsure_threshold(calibrated.max(axis=1)),
          'unsure_share': UNSURE_SHARE, 'fitted_on': split_name, 'num_examples': int(len(labels)),
          'expected_calibration_error': expected_calibration_error(calibrated, labels),
          'expected_calibration_error_before': expected_calibration_error(probabilities, labels),
          'ece_bins': ECE_BINS}


def describe(recorded):
  """One line on a ``fit`` result."""
  return ('calibration on the %(fitted_on)s split (%(num_examples)d images): temperature '
          '%(temperature).3f, ECE %(expected_calibration_error_before).4f -> '
          '%(expected_calibration_error).4f (%(ece_bins)d bins), "%(mark)s" below confidence '
          '%(unsure_below).3f' % dict(recorded, mark=UNSURE_MARK))


def from_metadata(metadata, path):
  """(temperature, unsure threshold or None, recorded fit or None) of a run's ``metadata``
  (read from ``path``): (1.0, None, None) when it recorded none, a UsageError when damaged."""
  recorded = metadata.get(METADATA_KEY)
  if recorded is None:
    return 1.0, None, None
  try:
    temperature, threshold = float(recorded['temperature']), float(recorded['unsure_below'])
  except (TypeError, KeyError, ValueError):
    temperature = threshold = float('nan')
  if not (math.isfinite(temperature) and temperature > 0 and 0.0 <= threshold <= 1.0):
    raise UsageError('%s: the %s entry of %s is damaged (temperature and unsure_below must be a positive '
                     'number and a number in [0, 1])' % (path, METADATA_KEY, checkpoints.METADATA_FILE))
  return temperature, threshold, recorded


def missing_note(path):
  """The line that says a run has no calibration."""
  return ('note: %s has no calibration (trained before it was recorded, or with --validation_split 0): '
          'confidences are the network\'s own (temperature 1) and none is marked "%s"; '
          'python -m legacy_resnet.programs.calibrate --checkpoint_path %s fits one'
          % (path, UNSURE_MARK, path))
