"""Command line: ``linksim run | validate | list | plot | train``.

Exit codes: 0 success, 2 a mistake in the user's input (one line, no
traceback), 1 an internal failure, 130 interrupted (rerun to resume).
"""
import math
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402

from .errors import ScenarioError, UserError  # noqa: E402
from .tf_start import import_tensorflow  # noqa: E402

MAX_OPTION_TEXT = 10_000
SNR_OPTION = "snr.db (--snr-db)"


def _number(text, key, kind=float):
    try:
        value = kind(text) if len(text) <= 40 else None
    except ValueError:
        value = None
    if value is None or (kind is float and not math.isfinite(value)):
        raise ScenarioError(key, f"{text.strip()[:40]!r} is not a finite "
                                 f"{'integer' if kind is int else 'number'}")
    return value


def parse_seed(text):
    """``--seed`` text -> int (range checked with the scenario)."""
    return _number(text, "seed (--seed)", int)


def parse_snr(text):
    """``--snr-db`` text -> the ``snr.db`` value it stands for (checked with the scenario).

    ``'0,1,2'``: a list of dB values; ``'start:stop:step'``: an inclusive range.
    """
    if len(text) > MAX_OPTION_TEXT:
        raise ScenarioError(SNR_OPTION, f"{len(text)} characters; at most {MAX_OPTION_TEXT}")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ScenarioError(SNR_OPTION, f"{text!r} is not valid; use '0,1,2' or "
                                            "'start:stop:step' (inclusive, step > 0)")
        start, stop, step = (_number(v, SNR_OPTION) for v in parts)
        return {"start": start, "stop": stop, "step": step}
    values = [_number(v, SNR_OPTION) for v in text.split(",") if v.strip()]
    if not values:
        raise ScenarioError(SNR_OPTION, f"{text!r} gives no SNR value; use '0,1,2' or "
                                        "'start:stop:step'")
    return values


class Group(click.Group):
    """Turns user errors (a command's usage errors included) into one line and exit code 2.

    A scenario error raised while simulating gets the scenario file's name here.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as err:
            if isinstance(err, ScenarioError) and err.file is None:
                err.file = ctx.meta.get(FILE_KEY)
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except click.UsageError as err:
            click.echo(f"error: {err.format_message()}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: finished points are saved; rerun the same command to resume",
                       err=True)
            sys.exit(130)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="linksim")
def main():
    """linksim: link-level simulation of learned semantic and conventional systems."""


FILE_KEY = "linksim.scenario_file"


def _remember_file(ctx, param, value):
    ctx.meta[FILE_KEY] = str(value)
    return value


SCENARIO = click.argument("scenario_file", type=click.Path(path_type=pathlib.Path),
                          callback=_remember_file, is_eager=True)
OUT = click.option("--out", type=click.Path(file_okay=False, path_type=pathlib.Path),
                   help="Results directory, checkpoints of learned systems included "
                        "[default: results/<scenario name>].")


@main.command()
@SCENARIO
@OUT
@click.option("--seed", help="Override the scenario's seed.")
@click.option("--snr-db", "snr_db", help="Override the SNR grid: '0,1,2' or 'start:stop:step' "
              "(dB); points already finished in --out stay in the results (the union).")
@click.option("--fresh", is_flag=True, help="Discard finished points in --out instead of resuming.")
@click.option("--no-plot", is_flag=True, help="Skip writing PNG plots.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--workers", type=int, help="Run the SNR points on a local Dask cluster of this "
              "many worker processes (127.0.0.1 only; needs the 'distributed' extra).")
@click.option("--cluster", metavar="ADDR", help="Run the SNR points on the Dask cluster whose "
              "scheduler is at ADDR, e.g. tcp://127.0.0.1:8786.")
def run(scenario_file, out, seed, snr_db, fresh, no_plot, quiet, workers, cluster):
    """Simulate SCENARIO_FILE and write metrics.csv, run.json and plots."""
    if workers is not None and workers < 1:
        raise UserError(f"--workers: {workers} is not valid; give 1 or more worker processes")
    if workers is not None and cluster is not None:
        raise UserError("--workers and --cluster: give one (a local cluster of N workers, or "
                        "the address of an existing one), not both")
    from . import scenario as scenario_lib
    # The whole file is checked before TensorFlow is imported (seconds later).
    scenario = scenario_lib.load(scenario_file, out=out,
                                 seed=parse_seed(seed) if seed is not None else None,
                                 snr_db=parse_snr(snr_db) if snr_db is not None else None)
    out = scenario.results_dir
    import_tensorflow()
    from .plot import plot_results
    from .sim.runner import run as run_scenario
    summary = run_scenario(scenario, out=out, file=scenario_file, fresh=fresh,
                           show_progress=not quiet, workers=workers, cluster=cluster)
    if not quiet:
        for line in summary.reused_lines():
            click.echo(line)
    click.echo(summary)
    for line in summary.warnings:
        click.echo(f"warning: {line}")
    click.echo(f"results: {out / 'metrics.csv'}")
    if not no_plot:
        for path in plot_results(out):
            click.echo(f"plot: {path}")


@main.command()
@SCENARIO
@click.option("--parameters", is_flag=True,
              help="Also build every learned model (untrained, on its test data) and print "
                   "how many parameters it stores.")
def validate(scenario_file, parameters):
    """Check SCENARIO_FILE and build every component without simulating."""
    from . import scenario as scenario_lib
    scenario = scenario_lib.load(scenario_file)
    import_tensorflow()
    channel, receiver, systems = scenario_lib.build(scenario, file=scenario_file)
    click.echo(f"{scenario_file}: ok: {len(systems)} system(s), {len(scenario.snr.values())} "
               f"SNR points ({scenario.snr.definition}), {channel.description}; "
               f"{receiver.description}")
    for system in systems:
        counts = system.parameter_counts() if parameters and hasattr(
            system, "parameter_counts") else None
        if not counts:
            click.echo(f"  - {system.label}")
            continue
        total = sum(counts.values())
        parts = f" ({', '.join(f'{k} {v:,}' for k, v in counts.items())})" if len(counts) > 1 \
            else ""
        click.echo(f"  - {system.label}: {total:,} parameters{parts}")


@main.command("list")
@click.argument("kind", required=False)
@click.option("--markdown", is_flag=True, help="Print a Markdown reference of every key.")
def list_components(kind, markdown):
    """List every registered channel, code, modulation, receiver, system, dataset and codec."""
    from . import registry
    from .scenario import ENTRY_KEYS
    kinds = registry.KINDS
    if kind is not None:
        if kind not in kinds:
            raise UserError(f"unknown kind {kind!r}{registry.suggest(kind, kinds)}; allowed: "
                            f"{', '.join(kinds)}")
        kinds = (kind,)
    for k in kinds:
        entries = registry.entries(k)
        if not entries:
            continue
        click.echo(f"\n### {k}\n\n| name | keys (default) | what |\n|---|---|---|" if markdown
                   else f"{k}:")
        for entry in entries:
            params = entry.parameters(registry.CONTEXT if k == "system" else ())
            if markdown:
                keys = "<br>".join(
                    f"`{p.name}`" + ("" if p.default is p.empty else f" ({p.default!r})")
                    for p in params) or "none"
                what = entry.help.replace("|", "\\|")  # a bare | would split the table cell
                click.echo(f"| `{entry.name}` | {keys} | {what} |")
                continue
            click.echo(f"  {entry.name:<16} {entry.help}")
            if params:
                click.echo(f"  {'':<16} keys: {', '.join(p.name for p in params)}")
        if k == "system":
            # Keys the scenario handles for every system, so no signature lists them.
            if markdown:
                click.echo("\nEvery `systems` entry may also give:\n" + "\n".join(
                    f"- `{name}`: {what}" for name, what in ENTRY_KEYS.items()))
            else:
                click.echo(f"  every entry may also give: {', '.join(ENTRY_KEYS)}")


@main.command()
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=pathlib.Path))
def plot(results_dir):
    """Redraw the PNG plots of RESULTS_DIR from its metrics.csv and run.json."""
    from .plot import plot_results
    if not results_dir.is_dir():
        raise UserError(f"{results_dir}: results directory not found")
    for path in plot_results(results_dir):
        click.echo(f"plot: {path}")


@main.command()
@SCENARIO
@OUT
@click.option("--fresh", is_flag=True, help="Discard existing checkpoints and train from scratch.")
@click.option("--quiet", is_flag=True, help="No per-epoch lines.")
def train(scenario_file, out, fresh, quiet):
    """Train every learned system of SCENARIO_FILE (resumes an interrupted training).

    Checkpoints go to <out>/checkpoints/<system label>/, where ``run`` with the same
    --out finds them.
    """
    from . import scenario as scenario_lib
    scenario = scenario_lib.load(scenario_file, out=out)
    import_tensorflow()
    from .systems.learned.base import LearnedSystem
    _, _, systems = scenario_lib.build(scenario, file=scenario_file)
    learned = [s for s in systems if isinstance(s, LearnedSystem)]
    if not learned:
        raise UserError(f"{scenario_file}: no learned system to train (all are conventional)")
    for system in learned:
        if system.checkpoint.exists() and not fresh:
            system.prepare(show_progress=not quiet)  # refuses a checkpoint of other settings
            click.echo(f"up to date: {system.checkpoint} (--fresh retrains)")
            continue
        system.train(fresh=fresh, show_progress=not quiet)
        click.echo(f"checkpoint: {system.checkpoint}")


if __name__ == "__main__":
    main()
