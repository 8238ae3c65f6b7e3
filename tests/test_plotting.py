"""skhtm.plotting draws what it says; skhtm imports without its optional extras."""

import subprocess
import sys

import numpy as np
import pytest

from skhtm import SaccadeEncoder, SpatialPoolerTransformer, ThermometerEncoder


@pytest.fixture
def plt():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture(scope="module")
def fitted_sp(digits_split):
    X_train = digits_split[0][:300]
    bits = ThermometerEncoder(n_thresholds=4).fit_transform(X_train)
    return SpatialPoolerTransformer(column_shape=64, input_shape=(8, 8, 4),
                                    random_state=0).fit(bits), bits


def test_receptive_fields_show_permanences(plt, fitted_sp):
    from skhtm.plotting import plot_receptive_fields

    sp, _ = fitted_sp
    axes = plot_receptive_fields(sp, [3, 5, 7], ncols=3)
    assert len(axes) == 3
    image = axes[1].images[0].get_array()
    expected = sp.permanences_[5].toarray().reshape(8, 8, 4).mean(axis=2)
    np.testing.assert_allclose(image, expected)
    assert axes[1].get_title() == "column 5"
    default = plot_receptive_fields(sp, n_columns=4)        # the most active columns
    top = np.argsort(-sp.active_duty_cycles_, kind="stable")[:4]
    assert [ax.get_title() for ax in default] == [f"column {c}" for c in top]


def test_reconstructions_grid(plt, fitted_sp, digits_split):
    from skhtm.plotting import plot_reconstructions

    sp, bits = fitted_sp
    back = sp.inverse_transform(sp.transform(bits[:5]))
    axes = plot_reconstructions(digits_split[0][:5], back, image_shape=(8, 8),
                                labels=list("abcde"))
    assert axes.shape == (2, 5)
    np.testing.assert_allclose(axes[1, 2].images[0].get_array(),
                               back[2].reshape(8, 8, 4).mean(axis=2))
    assert axes[0, 4].get_title() == "e"
    with pytest.raises(ValueError, match="as many images"):
        plot_reconstructions(digits_split[0][:4], back, image_shape=(8, 8))
    with pytest.raises(ValueError, match="square"):
        plot_reconstructions(None, np.ones((2, 10)))


def test_gaze_path_draws_the_fixations(plt, digits_split):
    from skhtm.plotting import plot_gaze_path

    X = digits_split[0][:2]
    enc = SaccadeEncoder(n_glimpses=4, fovea_shape=3, gaze="saliency")
    fixations = enc.fixations(X)[0]
    ax = plot_gaze_path(X[0].reshape(8, 8), fixations, fovea_shape=3)
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(np.c_[y, x], fixations)
    assert len(ax.patches) == 4                          # one fovea box per fixation
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3", "4"]


def test_anomaly_trace(plt):
    from skhtm.plotting import plot_anomaly

    scores = np.r_[np.ones(3), np.zeros(20), 1.0, np.zeros(10)]
    ax = plot_anomaly(scores[:, None], events=[23], window=5, threshold=0.5)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), scores)
    smooth = ax.lines[1].get_ydata()
    assert len(smooth) == len(scores) - 4 and smooth[0] == pytest.approx(0.6)
    assert ax.lines[2].get_xdata()[0] == 23                  # the event line


def test_class_pictures_are_centred_on_zero(plt):
    from skhtm.plotting import plot_class_pictures

    pictures = np.random.RandomState(0).randn(3, 4, 6)
    pictures[1] *= 10
    axes = plot_class_pictures(pictures, labels=["a", "b", "c"], ncols=2)
    assert [ax.get_title() for ax in axes] == ["a", "b", "c"]
    for ax, picture in zip(axes, pictures):
        image = ax.images[0]
        np.testing.assert_allclose(image.get_array(), picture)
        # Each picture on its own symmetric scale: zero is the middle of the colour map.
        assert image.get_clim() == pytest.approx((-np.abs(picture).max(), np.abs(picture).max()))
    flat = plot_class_pictures(pictures.reshape(3, -1), image_shape=(4, 6))
    np.testing.assert_allclose(flat[2].images[0].get_array(), pictures[2])
    with pytest.raises(ValueError, match="2 labels for 3 pictures"):
        plot_class_pictures(pictures, labels=["a", "b"])


def test_evidence_heat_map(plt):
    from skhtm.plotting import plot_evidence

    proba = np.array([[0.5, 0.3, 0.2], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    ax = plot_evidence(proba, classes=[3, 5, 7], true_class=5)
    np.testing.assert_array_equal(ax.images[0].get_array(), proba)   # glimpses down, classes across
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3", "5", "7"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3"]
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), [[0, 0], [1, 1], [1, 2]])
    (box,) = ax.patches                                              # the true class framed
    assert box.get_x() == 0.5 and box.get_height() == 3
    assert ax.get_xticklabels()[1].get_color() == "tab:red"
    assert not plot_evidence(proba).patches                          # no true class, no box
    with pytest.raises(ValueError, match="not one of the classes"):
        plot_evidence(proba, true_class=9)
    with pytest.raises(ValueError, match="2 classes for 3 columns"):
        plot_evidence(proba, classes=[0, 1])
    with pytest.raises(ValueError, match=r"\(n_glimpses, n_classes\)"):
        plot_evidence(proba[0])


def test_clear_error_without_matplotlib(monkeypatch, fitted_sp):
    import skhtm.plotting as plotting

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    for call in (lambda: plotting.plot_anomaly(np.zeros(5)),
                 lambda: plotting.plot_gaze_path(np.zeros((4, 4)), [[1, 1]]),
                 lambda: plotting.plot_evidence(np.ones((2, 3)) / 3),
                 lambda: plotting.plot_receptive_fields(fitted_sp[0], [0]),
                 lambda: plotting.plot_class_pictures(np.zeros((2, 4, 4)))):
        with pytest.raises(ImportError, match=r'pip install "skhtm\[plot\]"'):
            call()


def test_package_imports_without_optional_extras():
    # matplotlib, skops and dask blocked: skhtm and all its modules still import and fit.
    code = (
        "import sys\n"
        "for name in ('matplotlib', 'matplotlib.pyplot', 'skops', 'skops.io', 'dask',\n"
        "             'distributed'):\n"
        "    sys.modules[name] = None\n"
        "import numpy as np, skhtm, skhtm.plotting, skhtm.datasets, skhtm.exceptions\n"
        "X = np.random.RandomState(0).rand(20, 16) > 0.5\n"
        "skhtm.SpatialPoolerTransformer(32, random_state=0).fit(X)\n"
        "print(len(skhtm.skops_trusted_types()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    # Without the extras, the same estimator types are trusted as with them.
    import skhtm
    assert out.stdout.strip() == str(len(skhtm.skops_trusted_types()))
