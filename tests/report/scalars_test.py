"""`alae_tf.report.scalars`: reading a run's TensorBoard scalars."""

import numpy as np

from alae_tf.report import scalars
from tests.report.event_files import write_scalars


def test_read_scalars_keeps_every_logged_step_once(tmp_path):
    write_scalars(
        tmp_path,
        [(32, {"loss_d": 3.0, "r1": 0.5}), (64, {"loss_d": 2.0, "r1": 0.25}), (96, {"loss_d": 1.0, "r1": 0.125})],
    )
    # A resumed run (a second event file, written later) logs step 96 again and goes on.
    write_scalars(tmp_path, [(96, {"loss_d": 1.5}), (128, {"loss_d": 0.5})])
    read = scalars.read_scalars(tmp_path)
    assert set(read) == {"loss_d", "r1"}  # the image summary is not a curve
    steps, values = read["loss_d"]
    np.testing.assert_array_equal(steps, [32, 64, 96, 128])
    np.testing.assert_array_equal(values, [3.0, 2.0, 1.5, 0.5])  # the later write of step 96 wins
    np.testing.assert_array_equal(read["r1"][1], [0.5, 0.25, 0.125])
    assert scalars.read_scalars(tmp_path / "absent") == {}


def test_read_scalars_keeps_what_a_cut_file_holds(tmp_path):
    write_scalars(tmp_path, [(step, {"loss_d": float(step)}) for step in (1, 2, 3)])
    (path,) = tmp_path.glob("events.out.tfevents.*")
    path.write_bytes(path.read_bytes()[:-7])  # a killed run: the last record (the image) is cut short
    np.testing.assert_array_equal(scalars.read_scalars(tmp_path)["loss_d"][1], [1.0, 2.0, 3.0])
