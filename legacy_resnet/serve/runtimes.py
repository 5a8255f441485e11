"""A restored classifier run by TensorFlow, ONNX Runtime or OpenVINO, the latter two with
the CPU settings measured best (bench/results/serving-*.md)."""

import os

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.evaluate import evaluation
from legacy_resnet.core import atomic_files
from legacy_resnet.core.errors import UsageError
from legacy_resnet.serve import export
from legacy_resnet.serve import serving_packages

RUNTIMES = ('tensorflow', 'onnxruntime', 'openvino')
DEFAULT_RUNTIME = 'tensorflow'
ONNX_SUFFIX = '.onnx'
_INPUT = export.INPUT_NAME + ':0'
_PROBABILITIES = export.OUTPUT_NAMES[0] + ':0'


def checkpoint_onnx_model(checkpoint):
  """The serialized ONNX model of the ``checkpoints.Resolved`` ``checkpoint``, kept as
  ``<prefix>.onnx`` (unless that folder is read-only)."""
  path = checkpoint.prefix + ONNX_SUFFIX
  if os.path.exists(path):
    with open(path, 'rb') as stream:
      return stream.read()
  classifier = evaluation.RestoredClassifier(checkpoint, finalize=False)
  try:
    model = export.serving_onnx_model(classifier).SerializeToString()
  finally:
    classifier.close()
  try:
    with atomic_files.replacing(path) as temporary:
      with open(temporary, 'wb') as stream:
        stream.write(model)
  except UsageError:
    pass  # Converted again next time.
  return model


class OnnxRuntimeModel:
  """An ONNX model in an ONNX Runtime CPU session, called with a batch of its input:
  operators in sequence (a ResNet is a chain; a second pool only competes)."""

  def __init__(self, model, threads, input_name=_INPUT, output_name=_PROBABILITIES):
    ort = serving_packages.require('onnxruntime', '{runtime} onnxruntime')
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    self.session = ort.InferenceSession(model, options, providers=['CPUExecutionProvider'])
    self.input_name, self.output_name = input_name, output_name

  def __call__(self, images):
    return self.session.run([self.output_name], {self.input_name: images})[0]


class OpenVinoModel:
  """An ONNX model compiled by OpenVINO for the CPU, called like OnnxRuntimeModel, with
  the latency hint and float32 precision (on CPUs with AMX or AVX-512 bfloat16 OpenVINO
  would otherwise compute in bfloat16, about 1e-2 off)."""

  def __init__(self, model, threads, input_name=_INPUT, output_name=_PROBABILITIES):
    ov = serving_packages.require('openvino', '{runtime} openvino')
    core = ov.Core()
    self.compiled = core.compile_model(core.read_model(model), 'CPU', {
        'INFERENCE_NUM_THREADS': threads, 'PERFORMANCE_HINT': 'LATENCY',
        'INFERENCE_PRECISION_HINT': 'f32'})
    self.input_name, self.output = input_name, self.compiled.output(output_name)

  def __call__(self, images):
    return self.compiled({self.input_name: images})[self.output]


_MODELS = {'onnxruntime': OnnxRuntimeModel, 'openvino': OpenVinoModel}


class ServedClassifier:
  """A checkpoint's classifier run by ONNX Runtime or OpenVINO, with the attributes and
  ``probabilities`` of ``evaluation.RestoredClassifier``."""

  def __init__(self, checkpoint, runtime):
    make = _MODELS[runtime]
    serving_packages.require(runtime, '{runtime} ' + runtime)  # Before any conversion.
    checkpoint = checkpoints.resolved(checkpoint)
    self.metadata = checkpoint.metadata
    self.class_names = self.metadata['class_names']
    self.image_size = tuple(self.metadata['image_size'])

    def load(prefix):
      self.global_step = checkpoints.global_step(prefix)
      self.run = make(checkpoint_onnx_model(checkpoints.Resolved(prefix, prefix, self.metadata)),
                      os.cpu_count())

    # A train dir's trainer may delete the checkpoint while it is converted.
    self.prefix = checkpoints.restore_newest(checkpoint.path, load, checkpoint.prefix)

  def probabilities(self, images):
    """float32 [N, num_classes] for images [N, H, W, 3] in [0, 1]."""
    return evaluation.in_batches(self.run, images)

  def close(self):
    pass


def restored_classifier(checkpoint_path, runtime=DEFAULT_RUNTIME, config=None):
  """The checkpoint's classifier in ``runtime`` (one of RUNTIMES); ``config``: the
  TensorFlow session's ConfigProto (default: ``sessions.session_config()``)."""
  if runtime == 'tensorflow':
    return evaluation.RestoredClassifier(checkpoint_path, config=config)
  return ServedClassifier(checkpoint_path, runtime)
