import numpy as np
import pytest

from unet import viz
from unet.data import download


def test_error_window_finds_the_square_with_most_errors():
    truth = np.zeros((100, 120), int)
    prediction = truth.copy()
    prediction[70:80, 90:100] = 1  # 100 false positives in one corner
    prediction[5, 5] = 1  # a stray one elsewhere
    top, left, bottom, right = viz.error_window(truth, prediction, size=20)
    assert bottom - top == right - left == 20
    assert top <= 70 and bottom >= 80 and left <= 90 and right >= 100


def test_figures_have_the_expected_panels():
    confusion = viz.plot_confusion_matrix(np.eye(3) * 5, ["road", "sky", "car"])
    assert confusion.axes[0].get_xlabel() == "predicted"
    bars = viz.plot_class_histogram({7: 0.5, 13: 0.4, 10: 0.1})
    assert len(bars.axes[0].patches) == 3
    histogram = viz.plot_histogram([0.9, 0.95, 0.99], "Dice")
    assert "mean 0.9467" in histogram.axes[0].get_legend().get_texts()[0].get_text()


def test_runs_of_other_grids_are_never_joined_by_one_line():
    from unet.config import preset

    cpu = preset("cpu")
    old = cpu.override(model={"filters": 8})  # another configuration: another grid
    rows = [{"grid": config.override(train={"learning_rate": lr}).grid, "batch_size": 8,
             "kernel_size": 3, "learning_rate": lr, "dice": dice}
            for config, lr, dice in ((cpu, 1e-3, 0.97), (cpu, 3e-3, 0.96), (old, 1e-4, 0.55))]
    assert rows[0]["grid"] == rows[1]["grid"] != rows[2]["grid"]
    lines = viz.plot_score_vs_learning_rate(rows).axes[0].get_lines()
    assert sorted(len(line.get_xdata()) for line in lines) == [1, 2]
    labels = [line.get_label() for line in lines]
    assert any(label.startswith(rows[2]["grid"]) for label in labels)  # same preset folder


def test_figures_are_saved_as_png_where_asked(tmp_path):
    path = viz.save_figure(viz.plot_histogram([1, 2, 3], "x"), tmp_path / "sub" / "h.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "sub").glob(".*partial*"))


def test_download_without_credentials_says_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(download.KaggleCredentialsMissing, match="accept the competition rules"):
        download.download_carvana(tmp_path)


def test_without_a_folder_or_credentials_the_generated_look_alike_is_used(monkeypatch,
                                                                          tmp_path, capsys):
    from unet.data import synthetic

    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("UNET_DATA_ROOT", str(tmp_path / "data"))
    (tmp_path / "kaggle" / "train").mkdir(parents=True)
    assert download.get_carvana(tmp_path / "kaggle") == tmp_path / "kaggle"
    folder = download.get_carvana(tmp_path / "empty", fallback_cars=1, fallback_size=(32, 48))
    assert folder == synthetic.generated_dir(tmp_path / "data", "carvana", 1, (32, 48))
    assert "generated Carvana-like data" in capsys.readouterr().out
