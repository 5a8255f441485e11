"""Every private TensorFlow (and tf-keras) API the project touches, which an upgrade may move
or remove: ``tests/test_private_tf_apis.py`` fails with ``missing()``, and on an unlisted use."""

import collections
import functools
import importlib

PrivateApi = collections.namedtuple('PrivateApi', ['module', 'attribute', 'used_for'])

# attribute: a dotted path inside ``module`` (None: the module itself).
PRIVATE_APIS = (
    PrivateApi('tensorflow.python.framework.ops', None,
               'compat.SHIMS: puts back names tf-slim calls there (ops.Tensor, ops.IndexedSlices)'),
    PrivateApi('tensorflow.python.framework.tensor', 'Tensor._USE_EQUALITY',
               'sessions.fast_graph_building: graph building without TF2 tensor equality'),
    PrivateApi('tensorflow.python.client.session', 'BaseSession._make_callable_from_options',
               'sessions.prepared_run: the training step prepared without the interpreter lock'),
    PrivateApi('tensorflow.python.client.session', 'BaseSession.__init__',
               'soft_placement: every graph session soft-places under legacy-resnet-run'),
    PrivateApi('tensorflow.python.client.session', 'BaseSession._extend_graph',
               "soft_placement: the placer's warnings for variables moved off a missing GPU"),
    PrivateApi('tensorflow.core.protobuf.config_pb2', 'CallableOptions',
               'sessions.prepared_run: the prepared step\'s signature'),
    PrivateApi('tensorflow.core.protobuf.rewriter_config_pb2', 'RewriterConfig.ONE',
               'sessions.session_config: one round of graph optimizer passes'),
    PrivateApi('tensorflow.python.client.pywrap_tf_session', 'TF_SetTfXlaCpuGlobalJit',
               'sessions.session_config: --xla on the CPU'),
    PrivateApi('tensorflow.python.util._pywrap_util_port', 'IsMklEnabled',
               'onednn.enabled and the benchmark: whether TensorFlow runs its oneDNN kernels'),
    PrivateApi('tf_keras.src.legacy_tf_layers', None,
               'compat: the module tf-slim\'s batch_norm imports under its old name'),
)


def resolve(api):
  """The object ``api`` names; raises ImportError or AttributeError when it is gone."""
  names = api.attribute.split('.') if api.attribute else []
  return functools.reduce(getattr, names, importlib.import_module(api.module))


def missing():
  """'module.attribute (used for ...): error' for each entry this installation lacks."""
  gone = []
  for api in PRIVATE_APIS:
    try:
      resolve(api)
    except (ImportError, AttributeError) as error:
      name = api.module + ('.' + api.attribute if api.attribute else '')
      gone.append('%s (%s): %s' % (name, api.used_for, error))
  return gone
