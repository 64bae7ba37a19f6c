"""The official directions and edit rule (`alae_tf.editing.official`) against the rule written out in numpy.

The model is a real official checkpoint converted (`style_tiny.pth`: 8 style inputs, w of 32, 16 px at
its level, a nonzero `dlatent_avg`); the directions are random unit vectors saved as the official
`direction_N.npy` files (float64). `official_rule` below is `interactive_demo.py`'s arithmetic, loop by
loop: the coordinates all from the same u (its first loop), then removed one direction at a time (its
second loop), the new coordinates added, `dlatent_avg` back, w' on layers < 16 (here: every one of the
8), `E(x)` on the others.
"""

import numpy as np
import pytest

from alae_tf import configs, data, editing
from alae_tf import workdir as workdir_lib
from alae_tf.convert.architecture import infer_config
from alae_tf.convert.pth_to_workdir import checkpoint_level, convert_to_workdir, load_torch_checkpoint
from alae_tf.editing import official
from tests.conftest import FIXTURES

PTH = FIXTURES / "checkpoints" / "style_tiny.pth"
INDICES = (1, 4, 17)  # smile, young, chubby
TOLERANCE = 1e-5

pytestmark = pytest.mark.needs_path(PTH, "the official checkpoint of ../shared/fixtures/official/checkpoints")


def converted_workdir(path):
    """`style_tiny.pth` converted as `alae-convert --preset=faces_tiny --infer_architecture` does."""
    state_dicts = load_torch_checkpoint(PTH)
    config = infer_config(state_dicts, base=configs.PRESETS["faces_tiny"])
    convert_to_workdir(state_dicts, config, path, level=checkpoint_level(PTH))
    return path


def write_random_directions(folder, latent, seed=0, indices=INDICES):
    """Random unit float64 vectors as the official `direction_N.npy` files; returns them `[K, latent]`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    vectors = []
    for index in indices:
        d = rng.standard_normal(latent)
        d /= np.linalg.norm(d)
        np.save(folder / f"direction_{index}.npy", d)
        vectors.append(d)
    return np.stack(vectors)


def official_rule(w, directions, dlatent_avg, num_styles, values=None, shifts=None, layers=(0, 16)):
    """`interactive_demo.py`'s rule in numpy (float32 as its torch tensors): styles `[B, S, latent]`, coordinates."""
    directions = np.asarray(directions, np.float32)  # torch.tensor(np.load(...), dtype=torch.float32)
    styles, coordinates = [], []
    for code in np.asarray(w, np.float32):
        latents = code - np.asarray(dlatent_avg, np.float32)  # latents_original[0, 0] - dlatent_avg[0]
        v = [float((latents * d).sum()) for d in directions]  # for v, w in zip(...): v.value = (latents * w).sum()
        for value, d in zip(v, directions):  # for v, w in zip(...): latents = latents - v.value * w
            latents = latents - np.float32(value) * d
        if values is not None:
            new = [float(x) for x in values]  # the sliders
        elif shifts is not None:
            new = [a + float(b) for a, b in zip(v, shifts)]
        else:
            new = v
        edited = latents + sum(np.float32(x) * d for x, d in zip(new, directions))  # new_latents
        edited = edited + dlatent_avg  # update_image: w = w + dlatent_avg[0]
        layer = np.arange(num_styles)[:, None]
        inside = (layer >= layers[0]) & (layer < layers[1])  # torch.where(layer_idx < mixing_cutoff, w, original)
        styles.append(np.where(inside, edited[None], code[None]))
        coordinates.append(v)
    return np.stack(styles).astype(np.float32), np.asarray(coordinates, np.float32)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return workdir_lib.open_run(converted_workdir(tmp_path_factory.mktemp("official_run") / "w"))


@pytest.fixture(scope="module")
def folder(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("principal_directions")
    write_random_directions(path, int(run.model.dlatent_size))
    return path


def encoded(run, seed=0, batch=3):
    images = np.random.default_rng(seed).integers(0, 256, [batch, *run.image_shape], dtype=np.uint8)
    return editing.encode(run.model, data.to_pixel_range(images, run.config.pixel_range)).numpy()


def test_the_converted_checkpoint_is_a_real_case(run):
    model = run.model
    assert model.is_style and editing.num_style_layers(model) == 8 and int(model.dlatent_size) == 32
    assert np.abs(model.dlatent_avg.numpy()).max() > 0.1  # the rule's dlatent_avg matters
    assert official.official_layers(model) == (0, 8)  # layers < 16 of 8: every one, as torch.where does


def test_official_directions_are_read_by_name_file_and_folder_with_provenance(run, folder):
    latent = int(run.model.dlatent_size)
    by_name = official.resolve_official(["official:smile", "official:young"], folder, latent)
    assert [d.name for d in by_name] == ["smile", "young"]
    smile = by_name[0]
    raw = np.load(folder / "direction_1.npy")
    np.testing.assert_array_equal(smile.vector, raw.astype(np.float32))
    p = smile.provenance
    assert p["method"] == "official" and p["index"] == 1 and p["attribute"] == "smile" and p["dtype"] == "float64"
    assert p["source_file"] == str((folder / "direction_1.npy").resolve())
    import hashlib

    assert p["sha256"] == hashlib.sha256((folder / "direction_1.npy").read_bytes()).hexdigest()
    by_file = official.resolve_official([f"official:{folder / 'direction_17.npy'}"], None, latent)
    assert [d.name for d in by_file] == ["chubby"]
    by_folder = official.resolve_official([f"official:{folder}"], None, latent)
    assert [d.name for d in by_folder] == ["smile", "young", "chubby"]  # by index
    # Saved and reloaded like the project's own.
    editing.save_directions(folder.parent / "saved", by_folder)
    again = editing.load_directions(folder.parent / "saved", latent)
    assert again["young"].provenance == by_folder[1].provenance


@pytest.mark.parametrize(
    "specs, folder_given, message",
    [
        (["official:smile"], False, "--official_directions=PATH/principal_directions"),
        (["official:happy"], True, "unknown official direction 'happy'"),
        (["official:glasses"], True, "no official direction file"),
        (["official:smile", "official:direction_1"], True, "named twice"),
    ],
)
def test_official_direction_refusals(run, folder, specs, folder_given, message):
    with pytest.raises(editing.EditingError, match=message):
        official.resolve_official(specs, folder if folder_given else None, int(run.model.dlatent_size))


def test_a_direction_of_another_size_or_kind_is_refused(run, tmp_path):
    np.save(tmp_path / "direction_0.npy", np.ones(512))
    with pytest.raises(editing.EditingError, match="fit the ffhq model"):
        official.resolve_official(["official:gender"], tmp_path, int(run.model.dlatent_size))
    np.save(tmp_path / "direction_1.npy", np.ones((2, 32)))
    with pytest.raises(editing.EditingError, match="float vector"):
        official.resolve_official(["official:smile"], tmp_path, 32)


@pytest.mark.parametrize(
    "kind, layers",
    [("values", None), ("shifts", None), ("keep", None), ("values", (2, 6)), ("shifts", "coarse")],
)
def test_library_styles_equal_the_official_rule(run, folder, kind, layers):
    model = run.model
    directions = official.resolve_official([f"official:{folder}"], None, int(model.dlatent_size))
    matrix = np.stack([np.load(folder / f"direction_{i}.npy") for i in INDICES])
    w = encoded(run)
    numbers = {"values": np.array([[20.0, -13.5, 3.0]]), "shifts": np.array([[-7.0, 0.5, 11.0]])}.get(kind)
    kwargs = {kind: numbers[0]} if numbers is not None else {}
    styles, v = official.official_styles(model, w, directions, layers=layers, **kwargs)
    span = official.official_layers(model, layers)
    want, want_v = official_rule(w, matrix, model.dlatent_avg.numpy(), 8, layers=span, **kwargs)
    np.testing.assert_allclose(styles.numpy(), want, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(v.numpy(), want_v, atol=TOLERANCE, rtol=0)
    if kind == "keep":  # the coordinates unchanged: the encoding itself
        np.testing.assert_allclose(styles.numpy(), np.repeat(w[:, None], 8, axis=1), atol=TOLERANCE)


def test_the_rule_is_the_officials_not_gram_schmidt(run):
    """Non-orthogonal directions: the official coordinates all come from the same u; set values differ from a
    sequential reading, shifts do not (both give w + sum shifts d)."""
    model = run.model
    w = encoded(run, seed=1, batch=2)
    rng = np.random.default_rng(5)
    d = rng.standard_normal([2, 32])
    d[1] += 2 * d[0]  # far from orthogonal
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    directions = [editing.Direction(f"d{i}", d[i]) for i in range(2)]
    avg = model.dlatent_avg.numpy()
    styles, _ = official.official_styles(model, w, directions, values=[5.0, -5.0])
    np.testing.assert_allclose(styles.numpy(), official_rule(w, d, avg, 8, values=[5.0, -5.0])[0], atol=TOLERANCE)
    u = w - avg  # the sequential reading, for contrast
    for row in d:
        u = u - (u @ row)[:, None] * row
    sequential = u + 5.0 * d[0] - 5.0 * d[1] + avg
    assert np.abs(styles.numpy()[:, 0] - sequential).max() > 1e-2
    shifted, _ = official.official_styles(model, w, directions, shifts=[2.0, 3.0])
    np.testing.assert_allclose(shifted.numpy()[:, 0], w + 2.0 * d[0] + 3.0 * d[1], atol=TOLERANCE)


def test_official_edit_decodes_the_styles_with_the_librarys_noise(run, folder):
    model = run.model
    directions = official.resolve_official([f"official:{folder}"], None, int(model.dlatent_size))
    images = data.to_pixel_range(
        np.random.default_rng(2).integers(0, 256, [2, *run.image_shape], dtype=np.uint8), run.config.pixel_range
    )
    edited, _ = official.official_edit(model, images, directions, shifts=[1.0, 2.0, 3.0])
    styles, _ = official.official_styles(model, editing.encode(model, images), directions, shifts=[1.0, 2.0, 3.0])
    np.testing.assert_allclose(edited.numpy(), editing.decode_styles(model, styles).numpy(), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"values": [1.0, 2.0]}, r"\[K\] or \[B, K\] for K=3"),
        ({"values": [1.0, 2.0, 3.0], "shifts": [1.0, 2.0, 3.0]}, "not both"),
        ({"values": [1.0, 2.0, 3.0], "layers": (0, 9)}, "0 <= start < end <= 8"),
    ],
)
def test_rule_refusals(run, folder, kwargs, message):
    directions = official.resolve_official([f"official:{folder}"], None, 32)
    with pytest.raises(editing.EditingError, match=message):
        official.official_styles(run.model, encoded(run, batch=2), directions, **kwargs)
