"""The `editor` SavedModel's official rule (`edit_official`, `shift_official`, `official_coordinates`).

On a converted official checkpoint (`style_tiny.pth`) exported with random unit directions as the official
`direction_N.npy` files: the styles the SavedModel returns equal the official rule written out in numpy
(`tests.editing.official_test.official_rule`) within 1e-5, its images the library's decode of them within a
grey level, the asset holds the directions with their provenance and `dlatent_avg`, and bad input is refused.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import data, editing
from alae_tf import workdir as workdir_lib
from alae_tf.editing import official
from alae_tf.export import ExportError, editor, saved_model, serving
from tests.editing.official_test import INDICES, PTH, converted_workdir, official_rule, write_random_directions

pytestmark = pytest.mark.needs_path(PTH, "the official checkpoint of ../shared/fixtures/official/checkpoints")
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    run = workdir_lib.open_run(converted_workdir(tmp_path_factory.mktemp("official_editor_run") / "w"))
    folder = tmp_path_factory.mktemp("principal_directions")
    matrix = write_random_directions(folder, int(run.model.dlatent_size), seed=7)
    directions = official.resolve_official([f"official:{folder}"], None, int(run.model.dlatent_size))
    out = tmp_path_factory.mktemp("official_editor")
    result = saved_model.export_saved_models(
        run.model, run.config, out, parts=(editor.PART,), official_directions=directions
    )
    path = result.saved_models[editor.PART]
    return run, matrix, directions, path, tf.saved_model.load(str(path))


def images(run, batch, seed):
    return np.random.default_rng(seed).integers(0, 256, [batch, *run.image_shape], dtype=np.uint8)


def encode(run, image):
    return editing.encode(run.model, data.to_pixel_range(image, run.config.pixel_range)).numpy()


def test_the_signatures_and_the_asset(case):
    run, matrix, directions, path, _ = case
    defs = serving.read_signature_defs(path)
    assert {"edit_official", "shift_official", "official_coordinates", "edit", "mix"} <= set(defs)
    bake = editor.read_official_asset(path)
    assert [d.name for d in bake.directions] == ["smile", "young", "chubby"] and bake.layers == (0, 8)
    np.testing.assert_array_equal(bake.dlatent_avg, run.model.dlatent_avg.numpy())
    np.testing.assert_array_equal(editing.direction_matrix(list(bake.directions)), matrix.astype(np.float32))
    assert bake.directions[0].provenance == directions[0].provenance
    metadata = json.loads((path / "assets.extra" / "alae_export.json").read_text())
    assert metadata["official_directions"] == ["smile", "young", "chubby"] and metadata["official_layers"] == [0, 8]
    assert {"edit_official", "shift_official", "official_coordinates"} <= set(
        r.model_spec.signature_name for r in serving.read_warmup(path)
    )


@pytest.mark.parametrize("signature, key", [("edit_official", "value"), ("shift_official", "shift")])
@pytest.mark.parametrize("rows", [1, 3])
def test_saved_model_styles_equal_the_official_rule(case, signature, key, rows):
    run, matrix, _, _, loaded = case
    image = images(run, 3, seed=rows)
    numbers = np.random.default_rng(rows).uniform(-40, 40, [rows, len(INDICES)]).astype(np.float32)
    got = loaded.signatures[signature](image=tf.constant(image), **{key: tf.constant(numbers)})
    w = encode(run, image)
    want_styles, want_v = [], []
    for i in range(3):
        kwargs = {("values" if key == "value" else "shifts"): numbers[min(i, rows - 1)]}
        s, v = official_rule(w[i : i + 1], matrix, run.model.dlatent_avg.numpy(), 8, layers=(0, 8), **kwargs)
        want_styles.append(s)
        want_v.append(v)
    want_styles, want_v = np.concatenate(want_styles), np.concatenate(want_v)
    np.testing.assert_allclose(got["styles"].numpy(), want_styles, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(got["coordinate"].numpy(), want_v, atol=TOLERANCE, rtol=0)
    # The images: the library's decode of those styles (its noise), up to the uint8 rounding.
    want_image = data.from_pixel_range(editing.decode_styles(run.model, want_styles), run.config.pixel_range).numpy()
    assert got["image"].dtype == tf.uint8 and np.abs(got["image"].numpy().astype(int) - want_image).max() <= 1
    coordinates = loaded.signatures["official_coordinates"](image=tf.constant(image))["coordinate"].numpy()
    np.testing.assert_allclose(coordinates, want_v, atol=TOLERANCE, rtol=0)


def test_the_library_and_the_saved_model_agree(case):
    run, _, directions, _, loaded = case
    image = images(run, 2, seed=9)
    values = np.array([[5.0, -5.0, 12.0]], np.float32)
    got = loaded.signatures["edit_official"](image=tf.constant(image), value=tf.constant(values))
    styles, _ = official.official_styles(run.model, encode(run, image), directions, values=values[0])
    np.testing.assert_allclose(got["styles"].numpy(), styles.numpy(), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"value": np.full([1, 3], np.nan, np.float32)}, "edit_official: value must be finite"),
        ({"value": np.zeros([2, 3], np.float32)}, "value must be \\[1, K\\] .* or \\[B, K\\]"),
        ({"value": np.zeros([1, 2], np.float32)}, "[Ss]hape"),
    ],
)
def test_bad_input_is_refused(case, inputs, message):
    run, _, _, _, loaded = case
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=message):
        loaded.signatures["edit_official"](
            image=tf.constant(images(run, 3, 0)), **{k: tf.constant(v) for k, v in inputs.items()}
        )


def test_the_request_validator_knows_the_new_signatures(case):
    run, _, _, path, _ = case
    inputs = {"image": images(run, 1, 0), "value": np.full([1, 3], np.inf, np.float32)}
    request = {"signature_name": "edit_official", "inputs": inputs}
    defs, rules = serving.read_signature_defs(path), serving.read_input_rules(path)
    with pytest.raises(ValueError, match="'value' .*must be finite"):
        serving.validate_predict_request(request, defs, rules)
    inputs["value"] = np.zeros([1, 3], np.float32)
    name, checked = serving.validate_predict_request(request, defs, rules)
    assert name == "edit_official" and set(checked) == {"image", "value"}


def test_official_directions_that_do_not_fit_are_refused(case, tmp_path):
    run = case[0]
    wrong = [editing.Direction("smile", np.ones(16))]
    with pytest.raises(ExportError, match="w size 32"):
        saved_model.export_saved_models(
            run.model, run.config, tmp_path, parts=(editor.PART,), official_directions=wrong
        )
    with pytest.raises(ExportError, match="official directions: official layers"):
        saved_model.export_saved_models(
            run.model, run.config, tmp_path, parts=(editor.PART,), official_directions=case[2], official_layers=(0, 9)
        )
    assert not any(tmp_path.iterdir())


@pytest.mark.slow  # the binary over the library that the tests above check; about 25 s
def test_the_export_binary_bakes_official_directions_by_name(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    workdir = converted_workdir(tmp_path / "w")
    folder = tmp_path / "principal_directions"
    write_random_directions(folder, 32, seed=3)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    command = [sys.executable, "export/saved_model.py", f"--workdir={workdir}", f"--output_dir={tmp_path / 'out'}"]
    named = [f"--official_directions_dir={folder}", "--official_directions=smile,chubby"]
    result = subprocess.run(command + named, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    bake = editor.read_official_asset(tmp_path / "out" / "editor" / "1")
    assert [d.name for d in bake.directions] == ["smile", "chubby"]
    # a name without the folder is refused, naming what to give, and nothing new is written
    result = subprocess.run(
        command + ["--official_directions=smile", "--version=2"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert result.returncode != 0 and "official_directions" in result.stderr
    assert not (tmp_path / "out" / "editor" / "2").exists()
