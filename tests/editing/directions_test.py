"""`Direction`: validation, its .npz files (round trip, corrupt files, folders) and `orthogonalize`."""

import io
import json

import numpy as np
import pytest

from alae_tf.editing import Direction, EditingError, direction_name, load_directions, orthogonalize, save_directions


def _direction(name="smile", size=8, seed=0, **provenance):
    vector = np.random.default_rng(seed).normal(size=size)
    return Direction(name, vector, {"method": "test", **provenance})


def test_a_direction_holds_a_float32_read_only_vector_and_json_provenance():
    d = Direction(
        "a", [1, 2, 3], {"count": np.int64(4), "score": np.float32(0.5), "none": float("nan"), "v": np.ones(2)}
    )
    assert d.vector.dtype == np.float32 and d.latent_size == 3
    assert d.provenance == {"count": 4, "score": 0.5, "none": None, "v": [1.0, 1.0]}
    json.dumps(d.provenance)  # plain JSON, no numpy types left
    with pytest.raises(ValueError):
        d.vector[0] = 5.0
    np.testing.assert_allclose(d.unit, np.array([1, 2, 3]) / np.sqrt(14), rtol=1e-6)
    assert d.norm == pytest.approx(np.sqrt(14))


@pytest.mark.parametrize(
    "name, vector, provenance, message",
    [
        ("../up", [1.0], {}, "not a valid file name"),
        ("", [1.0], {}, "not a valid file name"),
        ("ok", [0.0, 0.0], {}, "not all zero"),
        ("ok", [1.0, np.nan], {}, "finite"),
        ("ok", [[1.0]], {}, r"\[latent\]"),
        ("ok", ["a"], {}, r"\[latent\]"),
        ("ok", [1.0], {"f": object()}, "provenance"),
    ],
)
def test_bad_directions_are_refused(name, vector, provenance, message):
    with pytest.raises(EditingError, match=message):
        Direction(name, vector, provenance)


def test_direction_name_makes_file_names():
    assert direction_name("class_mean", "T-shirt/top", "to", "Bag") == "class_mean_T-shirt_top_to_Bag"
    Direction(direction_name("../x y"), [1.0])  # valid after cleaning


def test_replace_updates_provenance_keys():
    d = _direction(nets="ema").replace(name="b", provenance={"images_seen": 10})
    assert d.name == "b" and d.provenance == {"method": "test", "nets": "ema", "images_seen": 10}


def test_save_and_load_round_trip(tmp_path):
    d = _direction(held_out_accuracy=0.97, classes=[1, 2])
    path = d.save(tmp_path / "sub" / "smile.npz")
    loaded = Direction.load(path, latent_size=8)
    assert loaded.name == d.name and loaded.provenance == d.provenance
    np.testing.assert_array_equal(loaded.vector, d.vector)
    assert not list((tmp_path / "sub").glob(".*"))  # the atomic write left no temp file


def test_load_refuses_a_missing_corrupt_or_foreign_file(tmp_path):
    with pytest.raises(EditingError, match="no direction file"):
        Direction.load(tmp_path / "absent.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(EditingError, match="corrupt"):
        Direction.load(garbage)
    good = _direction().save(tmp_path / "good.npz").read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(EditingError, match="corrupt"):
        Direction.load(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, vector=np.ones(3))
    with pytest.raises(EditingError, match="lacks"):
        Direction.load(foreign)


def _write_fields(path, **changes):
    fields = dict(
        format=np.array("alae_tf.direction/1"), name=np.array("x"), vector=np.ones(3), provenance=np.array("{}")
    )
    fields.update(changes)
    buffer = io.BytesIO()
    np.savez(buffer, **fields)
    path.write_bytes(buffer.getvalue())
    return path


def test_load_refuses_bad_fields(tmp_path):
    with pytest.raises(EditingError, match="corrupt"):
        Direction.load(_write_fields(tmp_path / "json.npz", provenance=np.array("{not json")))
    with pytest.raises(EditingError, match="not a JSON object"):
        Direction.load(_write_fields(tmp_path / "list.npz", provenance=np.array("[1]")))
    with pytest.raises(EditingError, match="format"):
        Direction.load(_write_fields(tmp_path / "format.npz", format=np.array("other/9")))
    with pytest.raises(EditingError, match="corrupt"):  # an object array needs pickle, which is refused
        Direction.load(_write_fields(tmp_path / "pickle.npz", vector=np.array([{"a": 1}], dtype=object)))
    with pytest.raises(EditingError, match="not all zero"):
        Direction.load(_write_fields(tmp_path / "zero.npz", vector=np.zeros(3)))


def test_load_refuses_a_vector_of_another_size(tmp_path):
    path = _direction(size=8).save(tmp_path / "d.npz")
    with pytest.raises(EditingError, match="has 8 numbers, the model's w has 16"):
        Direction.load(path, latent_size=16)


def test_save_and_load_a_folder(tmp_path):
    folder = tmp_path / "directions"
    directions = [_direction("b", seed=1), _direction("a", seed=2)]
    paths = save_directions(folder, directions)
    assert [p.name for p in paths] == ["b.npz", "a.npz"]
    loaded = load_directions(folder, latent_size=8)
    assert list(loaded) == ["a", "b"]
    np.testing.assert_array_equal(loaded["b"].vector, directions[0].vector)
    (folder / "notes.txt").write_text("other files are ignored")
    assert len(load_directions(folder)) == 2


def test_folder_errors(tmp_path):
    with pytest.raises(EditingError, match="no directions folder"):
        load_directions(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EditingError, match="holds no directions"):
        load_directions(tmp_path / "empty")
    with pytest.raises(EditingError, match="share the names"):
        save_directions(tmp_path / "dup", [_direction("a"), _direction("a", seed=3)])
    with pytest.raises(EditingError, match="Direction objects"):
        save_directions(tmp_path / "dup", [np.ones(3)])
    folder = tmp_path / "same"
    _direction("a").save(folder / "a.npz")
    _direction("a").save(folder / "copy.npz")
    with pytest.raises(EditingError, match="another file"):
        load_directions(folder)
    with pytest.raises(EditingError, match="the model's w has 4"):
        load_directions(folder, latent_size=4)


def test_orthogonalize_projects_out_the_others_and_keeps_the_projection():
    rng = np.random.default_rng(0)
    v, u1, u2 = (Direction(n, rng.normal(size=10)) for n in ("v", "u1", "u2"))
    result = orthogonalize(v, [u1, u2, u1])  # a repeated (dependent) direction is skipped
    for u in (u1, u2):
        assert abs(result.vector @ u.unit) < 1e-5 * result.norm
    # Strength 1 still moves w by |v| along v's unit vector.
    assert result.vector @ v.unit == pytest.approx(v.norm, rel=1e-5)
    assert result.name == "v_orth" and result.provenance["conditioned_on"] == ["u1", "u2", "u1"]
    assert 0 < result.provenance["cosine_to_original"] < 1
    same_norm = orthogonalize(v, u1, keep="norm", name="v_norm")
    assert same_norm.norm == pytest.approx(v.norm, rel=1e-5) and same_norm.name == "v_norm"
    assert abs(same_norm.vector @ u1.unit) < 1e-5 * v.norm


def test_orthogonalize_errors():
    v = Direction("v", [1.0, 1.0, 0.0])
    with pytest.raises(EditingError, match="span"):
        orthogonalize(v, [np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])])
    with pytest.raises(EditingError, match="keep"):
        orthogonalize(v, [np.array([1.0, 0.0, 0.0])], keep="length")
    with pytest.raises(EditingError, match="shape"):
        orthogonalize(v, [np.ones(4)])
