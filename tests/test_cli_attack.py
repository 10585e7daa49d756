"""``tfdpfair attack``: TF Privacy's attacks on a user's saved model, and one-line errors for bad files."""
import json

import numpy as np
import pytest

from tfdpfair import data, models
from tfdpfair.cli import main
from tfdpfair.evaluation.membership import membership_attacks
from tfdpfair.privacy import DPConfig
from tfdpfair.training import TrainConfig, train_classifier
from tfdpfair.compat import keras


@pytest.fixture(scope="session")
def saved(tmp_path_factory):
    """A digits MLP trained on 300 examples (saved as .keras) and member / non-member files of uint8 images."""
    root = tmp_path_factory.mktemp("attack")
    train = data.load("digits", "train")
    x, y = train.x, train.y  # uint8 images
    keras.utils.set_random_seed(0)
    model = models.get("mlp", input_shape=x.shape[1:], num_classes=10, hidden_units=(64,))
    train_classifier(model, x[:300] / 255.0, y[:300], dp=DPConfig().disabled(), seed=0, verbose=0,
                     train=TrainConfig(batch_size=25, epochs=30, learning_rate=0.5))
    model.save(root / "m.keras")
    np.savez(root / "members.npz", x=x[:300], y=y[:300])
    np.savez(root / "non_members.npz", x=x[300:600], y=y[300:600])
    return root, model, (x, y)


def _args(root, *extra):
    return ["attack", "--model", str(root / "m.keras"), "--members", str(root / "members.npz"),
            "--non-members", str(root / "non_members.npz"), "--attacks", "threshold,lr", *extra]


def test_attack_prints_the_table_and_matches_the_library(saved, capsys):
    root, model, (x, y) = saved
    assert main(_args(root, "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["members"] == out["non_members"] == 300
    direct = membership_attacks(model=model, members=(x[:300] / 255.0, y[:300]),
                                non_members=(x[300:600] / 255.0, y[300:600]), attacks=("threshold", "lr"))
    aucs = {row["attack"]: row["auc"] for row in out["rows"]}
    assert aucs["threshold"] == pytest.approx(direct.auc("threshold"), abs=1e-6)
    assert aucs["lr"] == pytest.approx(direct.auc("lr"), abs=1e-6)
    assert main(_args(root, "--slices", "entire,class")) == 0
    text = capsys.readouterr().out
    assert "best attack:" in text and "class" in text


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case", ["missing_model", "not_keras", "corrupt_model", "truncated_npz", "no_y",
                                  "label_count", "shape_mismatch", "wrong_input_shape", "unknown_attack",
                                  "label_range", "nan_inputs"])
def test_bad_files_exit_2_with_one_line(saved, case, tmp_path, capsys):
    root, _, (x, y) = saved
    args = _args(root)
    model_i, members_i, non_members_i = args.index("--model") + 1, args.index("--members") + 1, \
        args.index("--non-members") + 1
    if case == "missing_model":
        args[model_i] = str(tmp_path / "none.keras")
    elif case == "not_keras":
        args[model_i] = str(_write(tmp_path / "m.npz", x=x))
    elif case == "corrupt_model":
        (tmp_path / "bad.keras").write_bytes(b"not a zip")
        args[model_i] = str(tmp_path / "bad.keras")
    elif case == "truncated_npz":
        content = (root / "members.npz").read_bytes()
        (tmp_path / "t.npz").write_bytes(content[: len(content) // 2])
        args[members_i] = str(tmp_path / "t.npz")
    elif case == "no_y":
        args[members_i] = str(_write(tmp_path / "a.npz", x=x[:10]))
    elif case == "label_count":
        args[members_i] = str(_write(tmp_path / "a.npz", x=x[:10], y=y[:9]))
    elif case == "shape_mismatch":
        args[non_members_i] = str(_write(tmp_path / "b.npz", x=x[:10, :4], y=y[:10]))
    elif case == "wrong_input_shape":
        args[members_i] = str(_write(tmp_path / "a.npz", x=x[:10, :4], y=y[:10]))
        args[non_members_i] = str(_write(tmp_path / "b.npz", x=x[:10, :4], y=y[:10]))
    elif case == "unknown_attack":
        args[args.index("--attacks") + 1] = "threshold,bogus"
    elif case == "label_range":
        args[members_i] = str(_write(tmp_path / "a.npz", x=x[:10], y=np.full(10, 12)))
    elif case == "nan_inputs":
        args[members_i] = str(_write(tmp_path / "a.npz", x=np.full((10, 8, 8, 1), np.nan), y=y[:10]))
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err


def test_grayscale_images_without_a_channel_axis_are_accepted(saved, tmp_path, capsys):
    root, _, (x, y) = saved
    args = _args(root, "--json")
    args[args.index("--members") + 1] = str(_write(tmp_path / "a.npz", x=x[:300, ..., 0], y=y[:300]))
    args[args.index("--non-members") + 1] = str(_write(tmp_path / "b.npz", x=x[300:600, ..., 0], y=y[300:600]))
    assert main(args) == 0
    with_axis = json.loads(capsys.readouterr().out)
    assert main(_args(root, "--json")) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == with_axis["rows"]
