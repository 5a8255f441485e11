"""Shared fixtures (a tiny SIGNS-format dataset on disk) and the ``smoke`` tier.

Helpers that test modules import live in ``netutil.py`` (networks) and
``scriptutil.py`` (the scripts as subprocesses), not here.

``-m smoke`` runs the cases named in SMOKE below: the compatibility layer, the exactness of
one network against tf-slim's, and a short train + evaluate + resume. ``.ci/run`` runs them
on the oldest TensorFlow the project claims. Naming them here, rather than decorating
them in their modules, keeps the tier in one place; a name whose test function no
longer exists is an error, so the tier cannot shrink silently (and `-m smoke`
checks that it collected every one)."""

import pytest

from legacy_resnet.data import synthetic_signs

EXACT_50 = 'resnet_v1_50-infer-pool-stride_None'
SMOKE = {
    'tests/test_launcher.py': (
        'test_slim_era_program_trains_then_evaluates_its_checkpoint',
        'test_quantization_aware_training_stops_with_one_error_line',
        'test_the_script_sees_itself_and_tensorflow_1_while_libraries_see_tensorflow_2',
    ),
    'tests/test_compat.py': (
        'test_each_shim_is_applied_where_needed_and_serves_its_target',
        'test_tf_slim_library_code_calls_no_missing_name',
        'test_tfexample_decoder_reads_png_and_jpeg_records',
        'test_assign_from_checkpoint_restores_partitioned_and_whole_variables',
        'test_tf_slim_imported_first_is_repaired_and_keras_3_and_numpy_are_left_alone',
    ),
    'tests/test_speed.py': (
        'test_fast_graph_building_restores_tensor_equality',
        'test_prepared_run_casts_feeds_runs_targets_and_matches_session_run',
        'test_gradients_wait_on_one_group_of_all_batch_norm_updates',
    ),
    'tests/test_batch_norm_updates.py': (
        'test_in_place_updates_move_moving_statistics_without_update_ops',
    ),
    'tests/test_resnet_exactness.py': (
        'test_variable_names_and_shapes_match_tf_slim[%s]' % EXACT_50,
        'test_every_tf_slim_end_point_is_among_ours[%s]' % EXACT_50,
        'test_logits_and_end_points_match_tf_slim[%s-64]' % EXACT_50,
    ),
    'tests/test_train_eval.py': (
        'test_training_writes_checkpoints_metadata_and_summaries',
        'test_eval_reproduces_in_session_accuracy_and_loss',
        'test_rerun_resumes_from_latest_checkpoint',
    ),
}


def pytest_collection_modifyitems(config, items):
  marked = set()
  for item in items:
    module, name = item.nodeid.split('::')[0], item.nodeid.split('::')[-1]
    names = SMOKE.get(module, ())
    # A name without parameters takes in all of its parametrized cases.
    for wanted in (name, name.split('[')[0]):
      if wanted in names:
        item.add_marker(pytest.mark.smoke)
        marked.add((module, wanted))
  wanted = {(module, name) for module, names in SMOKE.items() for name in names}
  modules = {item.nodeid.split('::')[0] for item in items}
  if config.option.markexpr == 'smoke' and set(SMOKE) <= modules and marked != wanted:
    raise pytest.UsageError('conftest.SMOKE names tests that were not collected: %s'
                            % sorted(wanted - marked))
  checked = {}
  for item in items:
    module = item.nodeid.split('::')[0]
    if module in SMOKE and module not in checked:
      checked[module] = [name for name in SMOKE[module]
                         if not hasattr(item.module, name.split('[')[0])]
  missing = ['%s::%s' % (module, name) for module, names in checked.items() for name in names]
  if missing:
    raise pytest.UsageError('conftest.SMOKE names tests that do not exist: ' + ', '.join(missing))


@pytest.fixture(scope='session')
def signs_dir(tmp_path_factory):
  """A folder with train_signs.h5 (60 images) and test_signs.h5 (30 images)."""
  folder = tmp_path_factory.mktemp('signs')
  synthetic_signs.write_signs_files(str(folder), num_train=60, num_test=30, seed=1)
  return str(folder)
