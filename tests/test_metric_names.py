"""``metric_names``: a system's metrics written under other column names, and its bad input."""
import json

import pytest
import yaml
from click.testing import CliRunner

from linksim.cli import main
from linksim.sim.results import read_metrics

ANALOG = {"name": "uncoded_analog", "dataset": {"name": "fashion_mnist"}, "test_samples": 100,
          "channel_uses_per_sample": 196, "train_samples": 500}
RENAMED = {"psnr": "image_reconstruction_psnr"}


def scenario(tmp_path, systems=None, link=None):
    data = {"name": "tiny", "seed": 3, "snr": {"db": [0.0, 10.0]},
            "stop": {"max_blocks": 100, "batch_size": 50, "block_errors": 20}}
    data |= {"systems": systems} if systems is not None else {}
    data |= {"link": link} if link is not None else {}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_renamed_metric_is_the_same_curve_under_its_new_name(tmp_path):
    # The same system twice on the same channel draws: the renamed columns must hold
    # exactly what the other one reports under the system's own names.
    path = scenario(tmp_path, [{**ANALOG, "label": "own"},
                               {**ANALOG, "label": "renamed", "metric_names": RENAMED}])
    result = invoke("run", path, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "renamed  esno=+0.00 dB  image_reconstruction_psnr=" in result.output
    rows = read_metrics(tmp_path / "out")
    own = {r["snr_db"]: r for r in rows if r["system"] == "own"}
    renamed = {r["snr_db"]: r for r in rows if r["system"] == "renamed"}
    assert sorted(own) == sorted(renamed) == [0.0, 10.0]
    for snr, row in renamed.items():
        for suffix in ("", "_ci_low", "_ci_high"):
            assert row[f"image_reconstruction_psnr{suffix}"] == own[snr][f"psnr{suffix}"]
            assert row[f"psnr{suffix}"] != row[f"psnr{suffix}"]  # empty (NaN) in its row
            assert row[f"ssim{suffix}"] == own[snr][f"ssim{suffix}"]  # not renamed
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    names = {s["label"]: [m["name"] for m in s["metrics"]] for s in run["systems"]}
    assert names == {"own": ["psnr", "ssim"], "renamed": ["image_reconstruction_psnr", "ssim"]}
    metric = run["systems"][1]["metrics"][0]
    assert metric["ci"] == ["image_reconstruction_psnr_ci_low", "image_reconstruction_psnr_ci_high"]
    for png in ("image_reconstruction_psnr.png", "psnr.png", "ssim.png"):
        assert (tmp_path / "out" / png).stat().st_size > 0
    table = (tmp_path / "out" / "table.md").read_text()
    value = f"{renamed[0.0]['image_reconstruction_psnr']:.4g}"
    assert any(line.startswith(f"| renamed | {value} [") for line in table.splitlines())
    # Points keep the system's own names, so a rerun reuses them and changes nothing ...
    again = invoke("run", path, "--out", tmp_path / "out", "--no-plot")
    assert again.exit_code == 0 and "0 point(s) computed" in again.output
    assert "results files unchanged" in again.output, again.output
    # ... and new names only rewrite the results: a plot of a name gone is removed.
    scenario(tmp_path, [{**ANALOG, "label": "own"},
                        {**ANALOG, "label": "renamed", "metric_names": {"psnr": "psnr_db"}}])
    again = invoke("run", path, "--out", tmp_path / "out")
    assert again.exit_code == 0 and "0 point(s) computed" in again.output, again.output
    assert read_metrics(tmp_path / "out")[-1]["psnr_db"] == renamed[10.0][
        "image_reconstruction_psnr"]
    assert (tmp_path / "out" / "psnr_db.png").exists()
    assert not (tmp_path / "out" / "image_reconstruction_psnr.png").exists()


def test_a_name_taken_by_another_column_is_refused_when_the_row_is_known(tmp_path):
    # 'blocks' is no metric, so only a finished point shows the clash; the point is kept.
    path = scenario(tmp_path, [{**ANALOG, "metric_names": {"psnr": "blocks"}}])
    result = invoke("run", path, "--out", tmp_path / "out")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1] == (f"error: {path}: systems[0].metric_names.psnr: 'blocks' is also a column "
                         "that system 'uncoded analog + LMMSE' writes; choose another name "
                         "(finished points are kept: rerun after the change)"), result.output
    assert "Traceback" not in result.output
    scenario(tmp_path, [{**ANALOG, "metric_names": {"psnr": "psnr_db"}}])
    result = invoke("run", path, "--out", tmp_path / "out", "--no-plot")
    assert result.exit_code == 0 and "1 reused from points/" in result.output, result.output


def test_renamed_link_metrics_keep_their_closed_form(tmp_path):
    link = {"code": {"name": "uncoded", "k": 100}, "modulation": {"name": "qam"},
            "metric_names": {"ber": "bit_error_rate"}}
    result = invoke("run", scenario(tmp_path, link=link), "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    row = read_metrics(tmp_path / "out")[0]
    assert {"bit_error_rate", "bit_error_rate_ci_low", "bit_error_rate_ci_high",
            "bler"} <= set(row) and "ber" not in row
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    # The uncoded BER closed form, drawn on the renamed metric's plot.
    assert list(run["theory"]["uncoded, 100 bits/block, QPSK"]) == ["bit_error_rate"]
    assert (tmp_path / "out" / "bit_error_rate.png").exists()


@pytest.mark.parametrize("names,needle", [
    ({"psnrr": "x"}, "systems[0].metric_names.psnrr: system 'uncoded analog + LMMSE' has no "
                     "metric 'psnrr' (did you mean 'psnr'?); its metrics: psnr, ssim"),
    ({"psnr": "Image-PSNR"}, "systems[0].metric_names.psnr: 'Image-PSNR' is not a column name"),
    ({"psnr": 3}, "systems[0].metric_names.psnr: 3 is not a column name"),
    ({"psnr": "ssim"}, "systems[0].metric_names.psnr: 'ssim' collides with the columns of "
                       "metric 'ssim'"),
    ({"psnr": "ssim_ci_high"}, "'ssim_ci_high' collides with the columns of metric 'ssim'"),
    ({"psnr": "x", "ssim": "x"}, "systems[0].metric_names.ssim: 'x' is also the new name of "
                                 "'psnr'"),
    ({"psnr": "snr_db"}, "systems[0].metric_names.psnr: 'snr_db' is a column of every row"),
    (["psnr"], "systems[0].metric_names: expected a mapping {metric: new column name}"),
])
def test_bad_metric_names_give_one_line_and_write_nothing(tmp_path, names, needle):
    path = scenario(tmp_path, [{**ANALOG, "metric_names": names}])
    for command in ("validate", "run"):
        result = invoke(command, path, *(["--out", tmp_path / "out"] if command == "run" else []))
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), result.output
        assert needle in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_bad_link_metric_name(tmp_path):
    link = {"code": {"name": "uncoded", "k": 100}, "modulation": {"name": "qam"},
            "metric_names": {"bit_errors": "x"}}
    result = invoke("validate", scenario(tmp_path, link=link))
    assert result.exit_code == 2
    assert result.output.strip().endswith("link.metric_names.bit_errors: system 'uncoded, 100 "
                                          "bits/block, QPSK' has no metric 'bit_errors'; its metrics: bler, ber"), \
        result.output
