"""verbose fit: epochs, samples per second and time left, scikit-learn style."""

import re

import numpy as np

from skhtm import PatchSpatialPooler, SpatialPoolerTransformer, TemporalMemoryTransformer

LINE = (r"\[{name}\] epoch (\d+)/(\d+){part}: (\d+) {unit}/s, (\d+\.\d)s elapsed, "
        r"~(\d+\.\d|nan)s left")


def _lines(capsys):
    return [line for line in capsys.readouterr().out.splitlines() if line]


def test_spatial_pooler_reports_each_epoch(capsys, random_bits):
    SpatialPoolerTransformer(column_shape=64, n_epochs=3, verbose=1, random_state=0).fit(
        random_bits)
    lines = _lines(capsys)
    pattern = LINE.format(name="SpatialPoolerTransformer", part="", unit="samples")
    assert len(lines) == 3
    for k, line in enumerate(lines, start=1):
        match = re.fullmatch(pattern, line)
        assert match, line
        assert match.group(1, 2) == (str(k), "3") and int(match.group(3)) > 0
    assert re.fullmatch(pattern, lines[-1]).group(5) == "0.0"     # nothing left at the end


def test_verbose_2_reports_within_epochs(capsys):
    X = np.random.RandomState(0).rand(400, 32) > 0.6
    SpatialPoolerTransformer(column_shape=64, batch_size=20, verbose=2, random_state=0).fit(X)
    lines = _lines(capsys)
    part = LINE.format(name="SpatialPoolerTransformer", part=r", (\d+)/400 samples",
                       unit="samples").replace(r"(\d+)/s", r"(\d+)/s")
    within = [line for line in lines if "/400 samples" in line]
    assert len(within) == 9 and len(lines) == 10                 # every tenth, then the epoch
    done = [int(re.fullmatch(part, line).group(3)) for line in within]
    assert done == sorted(done) and done[0] >= 40


def test_temporal_memory_reports_sequences_or_steps(capsys):
    rng = np.random.RandomState(0)
    X = (rng.rand(12, 5, 64) < 0.1).astype(np.uint8)
    tm = TemporalMemoryTransformer(cells_per_column=4, activation_threshold=2, min_threshold=1,
                                   n_epochs=2, verbose=1, random_state=0).fit(X)
    lines = _lines(capsys)
    assert len(lines) == 2
    pattern = LINE.format(name="TemporalMemoryTransformer", part="", unit="sequences")
    assert all(re.match(pattern, line) for line in lines)
    assert lines[-1].endswith(f"{tm.n_segments_} segments, {tm.n_synapses_} synapses")
    tm.set_params(verbose=1).partial_fit(X.reshape(60, 64))     # one stream
    (line,) = _lines(capsys)
    assert re.match(LINE.format(name="TemporalMemoryTransformer", part="", unit="steps"), line)


def test_quiet_by_default(capsys, random_bits):
    SpatialPoolerTransformer(column_shape=64, n_epochs=2, random_state=0).fit(random_bits)
    PatchSpatialPooler(patch_shape=2, pool_grid=1, random_state=0).fit(
        np.random.RandomState(0).rand(4, 16))
    assert capsys.readouterr().out == ""
