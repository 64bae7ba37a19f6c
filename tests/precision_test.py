"""`--precision=auto` is decided by timing the run's real step, not by CPU flags (`alae_tf.precision`)."""

import json

import pytest

from alae_tf import configs, precision

MLP = configs.PRESETS["mnist_mlp_tiny"]


def fake_measure(rates, calls):
    def measure(config, policy):
        calls.append((config.name, policy))
        return rates[policy]

    return measure


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(precision.tf.config, "list_physical_devices", lambda kind=None: [])


@pytest.mark.parametrize(
    "rates, want",
    [
        ({"float32": 1000.0, "mixed_bfloat16": 2100.0}, "mixed_bfloat16"),  # AMD EPYC AVX512-BF16, Intel AMX
        ({"float32": 1000.0, "mixed_bfloat16": 700.0}, "float32"),  # Intel AVX512-BF16 without AMX
        ({"float32": 1000.0, "mixed_bfloat16": 1000.0}, "float32"),  # a tie keeps float32
    ],
)
def test_auto_picks_the_faster_measured_step_whatever_the_cpu_flags(cpu_only, tmp_path, rates, want):
    cpuinfo = tmp_path / "cpuinfo"  # flags that the old rule would have trusted: they no longer decide
    cpuinfo.write_text("model name\t: Some CPU\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16\n")
    calls = []
    got = precision.choose(MLP, "auto", tmp_path / "w", measure=fake_measure(rates, calls), cpuinfo=str(cpuinfo))
    assert got == want and sorted(p for _, p in calls) == ["float32", "mixed_bfloat16"]


def test_without_bf16_instructions_auto_is_float32_unmeasured(cpu_only, tmp_path):
    # An AVX2-only CPU: bf16 would be emulated; measuring it costs such a machine the most.
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: AVX2 CPU\nflags\t\t: fpu avx avx2 fma avx512f\n")
    calls = []
    measure = fake_measure({"float32": 1.0, "mixed_bfloat16": 2.0}, calls)
    assert precision.choose(MLP, "auto", tmp_path / "w", measure=measure, cpuinfo=str(cpuinfo)) == "float32"
    assert calls == [] and not (tmp_path / "w" / "precision.json").exists()


def test_the_choice_is_cached_per_machine_in_the_workdir(cpu_only, tmp_path):
    rates, calls = {"float32": 1.0, "mixed_bfloat16": 2.0}, []
    workdir = tmp_path / "w"
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: CPU A\nflags\t\t: fpu amx_bf16\n")
    assert precision.choose(MLP, "auto", workdir, measure=fake_measure(rates, calls), cpuinfo=str(cpuinfo)) == (
        "mixed_bfloat16"
    )
    assert precision.choose(MLP, "auto", workdir, measure=fake_measure(rates, calls), cpuinfo=str(cpuinfo)) == (
        "mixed_bfloat16"
    )
    assert len(calls) == 2  # measured once (two policies), then read back
    cached = json.loads((workdir / "precision.json").read_text())
    (entry,) = cached.values()
    assert entry["images_per_second"] == rates and entry["choice"] == "mixed_bfloat16"
    # Another machine (another CPU model) measures again; a damaged cache is measured again too.
    cpuinfo.write_text("model name\t: CPU B\nflags\t\t: fpu avx512_bf16\n")
    rates["float32"] = 3.0
    assert precision.choose(MLP, "auto", workdir, measure=fake_measure(rates, calls), cpuinfo=str(cpuinfo)) == (
        "float32"
    )
    (workdir / "precision.json").write_text("{not json")
    assert precision.choose(MLP, "auto", workdir, measure=fake_measure(rates, calls), cpuinfo=str(cpuinfo)) == (
        "float32"
    )
    assert len(calls) == 6


def test_gpus_tpus_multi_worker_and_explicit_choices_measure_nothing(monkeypatch, tmp_path):
    calls = []
    measure = fake_measure({}, calls)
    assert precision.choose(MLP, "float32", tmp_path, measure=measure) == "float32"
    monkeypatch.setattr(precision.tf.config, "list_physical_devices", lambda kind=None: [])
    assert precision.choose(MLP, "auto", tmp_path, strategy="tpu", measure=measure) == "mixed_bfloat16"
    assert precision.choose(MLP, "auto", tmp_path, strategy="multi_worker", measure=measure) == "float32"
    monkeypatch.setattr(
        precision.tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"] if kind == "GPU" else []
    )
    assert precision.choose(MLP, "auto", tmp_path, measure=measure) == "mixed_float16"
    assert calls == []
    with pytest.raises(ValueError, match="precision must be"):
        precision.choose(MLP, "float8")


def test_the_real_step_is_timed_with_the_clock_it_is_given():
    # The clock reads 0 at the start, 1 when 3 steps are done (1 s: enough), 2 at the end.
    ticks = iter(range(1000))
    rate = precision.measure_step(MLP, "float32", seconds=1.0, timer=lambda: float(next(ticks)))
    assert rate == pytest.approx(3 * MLP.batch_size / 2.0)


@pytest.mark.slow
@pytest.mark.skipif(not precision.bf16_hardware(), reason="needs a CPU with AVX512-BF16 or AMX")
def test_on_a_bf16_machine_the_demo_step_is_faster_in_bf16(cpu_only):
    """This project's AVX512-BF16 / AMX machines: the measured choice for the demo's nets is bf16."""
    assert precision.choose(configs.PRESETS["mnist_mlp_demo"], "auto") == "mixed_bfloat16"


def test_xla_by_default_only_for_mlp_nets_in_float32_on_one_cpu_device(cpu_only):
    style = configs.PRESETS["faces_micro"]
    assert precision.choose_jit_compile(MLP, "float32") is True
    assert precision.choose_jit_compile(MLP, "mixed_bfloat16") is False  # slower under XLA on CPUs
    assert precision.choose_jit_compile(style, "float32") is False  # the convolutions are slower under XLA
    assert precision.choose_jit_compile(MLP, "float32", "mirrored") is False
    assert precision.choose_jit_compile(MLP, "float32", "multi_worker") is False
