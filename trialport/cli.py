"""The ``trialport`` command: a thin shell over the library (every command is one call away)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

from trialport import fhirclient, pipeline, plugins
from trialport.cdisc.check import check_dataset
from trialport.diff import diff
from trialport.exporters import fhir as fhir_exporter
from trialport.fhir.validate import validate_file
from trialport.mapping.coverage import coverage
from trialport.model import Trial
from trialport.readers.base import Rejection
from trialport.report import RunReport

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
out = Console()
if not out.is_terminal:  # piped: whole lines, for grep and less, not wrapped at 80 columns
    out = Console(width=10_000)
err = Console(stderr=True)

Paths = Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")]


def _check_paths(paths: list[Path]) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise typer.BadParameter(f"no such file or folder: {', '.join(missing)}", param_hint="PATH")


@app.command()
def inspect(
    paths: Paths,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines of canonical trials on stdout.")] = False,
) -> None:
    """Show each parsed trial with its diagnostics; skipped and rejected records go to stderr."""
    _check_paths(paths)
    report = RunReport()
    for record in pipeline.read(paths):
        report.count(str(record.path), record.reader, record.result)
        result = record.result
        if isinstance(result, Rejection):
            err.print(f"[yellow]{result.status}[/]: {escape(str(result))}", highlight=False, soft_wrap=True)
        elif as_json:
            sys.stdout.buffer.write(orjson.dumps(result.model_dump(mode="json")) + b"\n")
        else:
            out.print(trial_tree(result))
    raise typer.Exit(report.exit_code)


def trial_tree(trial: Trial) -> Tree:
    """A readable tree of one trial: what a user checks first, then every diagnostic."""
    tree = Tree(f"[bold]{trial.id}[/]  {escape(trial.title)}", highlight=False)
    if trial.source:
        tree.add(f"[dim]source[/] {trial.source.format}: {escape(trial.source.path)}")
    facts = [
        ("status", trial.status),
        ("study type", trial.study_type),
        ("phases", ", ".join(trial.phases)),
        ("sponsor", trial.sponsor),
    ]
    for label, value in facts:
        if value:
            tree.add(f"[dim]{label}[/] {escape(value)}")
    if trial.conditions:
        branch = tree.add(f"[cyan]conditions[/] ({len(trial.conditions)})")
        for condition in trial.conditions:
            codes = ", ".join(f"{c.system.rsplit('/', 1)[-1]} {c.code}" for c in condition.codes)
            branch.add(escape(condition.name) + (f"  [dim]{codes}[/]" if codes else ""))
    if trial.interventions:
        branch = tree.add(f"[cyan]interventions[/] ({len(trial.interventions)})")
        for intervention in trial.interventions:
            branch.add(f"{intervention.type or '?'}: {escape(intervention.name)}")
    if trial.outcomes:
        branch = tree.add(f"[cyan]outcomes[/] ({len(trial.outcomes)})")
        for outcome in trial.outcomes:
            node = branch.add(f"[magenta]{outcome.kind}[/] {escape(outcome.measure)}")
            if outcome.time_frame:
                node.add(f"[dim]time frame[/] {escape(outcome.time_frame.text)}")
    if trial.diagnostics:
        branch = tree.add(f"[red]diagnostics[/] ({len(trial.diagnostics)})")
        for d in trial.diagnostics:
            where = escape(f" [{d.field}]") if d.field else ""
            branch.add(f"{d.level} {d.code}{where}: {escape(d.message)}")
    return tree


@app.command()
def convert(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders; default: seeds/.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Formats, comma-separated; default: all installed.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out"),
    fhir_version: Annotated[str, typer.Option("--fhir-version", help="R5, R4B, R4 or all.")] = "R5",
    validate: Annotated[
        bool, typer.Option("--validate", help="Check every FHIR resource with fhir.resources.")
    ] = False,
    fhir_outputs: Annotated[
        str,
        typer.Option("--fhir-outputs", help="FHIR files, comma-separated: study (one per trial), bundle, ndjson."),
    ] = "study,bundle,ndjson",
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", help="Processes to convert with; default: every usable core.", show_default=False),
    ] = None,
) -> None:
    """Convert records to every format asked for; print the run report and write out/report.json."""
    if fhir_version not in ("R5", "R4B", "R4", "all"):
        raise typer.BadParameter(f"{fhir_version!r}: choose R5, R4B, R4 or all", param_hint="--fhir-version")
    try:
        outputs = ",".join(fhir_exporter.fhir_outputs(fhir_outputs))
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--fhir-outputs") from None
    if jobs is not None and jobs < 1:
        raise typer.BadParameter(f"{jobs}: give 1 or more processes", param_hint="--jobs")
    paths = paths or [Path("seeds")]
    _check_paths(paths)
    formats = [f.strip() for f in to.split(",") if f.strip()] if to else None
    unknown = [f for f in formats or [] if f not in plugins.exporters()]
    if unknown:
        installed = ", ".join(plugins.exporters())
        raise typer.BadParameter(f"unknown format {', '.join(unknown)} (installed: {installed})", param_hint="--to")
    files = list(pipeline.iter_files(paths))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} files"),
        TextColumn("{task.fields[records]} records"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("converting", total=len(files), records=0)
        seen: set[Path] = set()

        def advance(record: pipeline.Record) -> None:
            if record.path not in seen:
                seen.add(record.path)
                progress.update(task, completed=len(seen))
            progress.update(task, records=progress.tasks[task].fields["records"] + 1)

        options = {"fhir_version": fhir_version, "validate": validate, "fhir_outputs": outputs}
        jobs = jobs or len(os.sched_getaffinity(0))
        try:
            report = pipeline.convert(files, out_dir, formats, on_record=advance, options=options, jobs=jobs)
        except KeyboardInterrupt:
            err.print(
                escape(f"interrupted: nothing written, {out_dir} left as it was"), highlight=False, soft_wrap=True
            )
            raise typer.Exit(130) from None
    print_report(report, out_dir)
    raise typer.Exit(report.exit_code)


def print_report(report: RunReport, out_dir: Path) -> None:
    totals = report.totals()
    table = Table(title="trialport run report", title_justify="left")
    for column in ("read", "converted", "skipped", "rejected"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{totals[k]:,}" for k in ("read", "converted", "skipped", "rejected")))
    out.print(table)
    for problem in report.problems:
        where = problem["path"] + (f" [{problem['record']}]" if problem["record"] else "")
        out.print(escape(f"  {problem['status']}: {where}: {problem['reason']}"), highlight=False, soft_wrap=True)
    for export in report.exports:
        files = ", ".join(export.files)
        out.print(escape(f"  {export.exporter}: {export.trials:,} trials -> {files}"), highlight=False)
        for note in export.notes:
            out.print(escape(f"    note: {note}"), highlight=False, soft_wrap=True)
    if report.stale_removed:
        stale = report.stale_removed
        out.print(f"  removed {stale:,} files the previous run wrote and this one did not", highlight=False)
    out.print(escape(f"  report: {out_dir / 'report.json'}"), highlight=False)


# The registry API's query vocabulary, shared by fetch and sync.
Cond = Annotated[str | None, typer.Option("--cond", help="query.cond: conditions or disease.")]
Term = Annotated[str | None, typer.Option("--term", help="query.term: other terms.")]
Intr = Annotated[str | None, typer.Option("--intr", help="query.intr: intervention / treatment.")]
Locn = Annotated[str | None, typer.Option("--locn", help="query.locn: location terms.")]
Titles = Annotated[str | None, typer.Option("--titles", help="query.titles: title / acronym.")]
Spons = Annotated[str | None, typer.Option("--spons", help="query.spons: sponsor / collaborator.")]
Status = Annotated[str | None, typer.Option("--status", help="filter.overallStatus, comma-separated.")]
Nct = Annotated[str | None, typer.Option("--nct", help="filter.ids: NCT numbers, comma-separated.")]
Near = Annotated[str | None, typer.Option("--near", help="filter.geo: LAT,LON,DISTANCE (e.g. 40.7,-74,50mi).")]
Advanced = Annotated[str | None, typer.Option("--advanced", help="filter.advanced (Essie expression).")]
Api = Annotated[str, typer.Option("--api", help="The API's base URL.")]


@app.command()
def fetch(
    out_file: Annotated[Path, typer.Option("--out", help="The JSON Lines file to write (one API v2 study a line).")],
    cond: Cond = None,
    term: Term = None,
    intr: Intr = None,
    locn: Locn = None,
    titles: Titles = None,
    spons: Spons = None,
    status: Status = None,
    nct: Nct = None,
    near: Near = None,
    updated_since: Annotated[
        str | None, typer.Option("--updated-since", help="Last update posted on or after this date (YYYY-MM-DD).")
    ] = None,
    advanced: Advanced = None,
    api: Api = "https://clinicaltrials.gov/api/v2",
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=1000, help="Studies per page.")] = 1000,
    per_minute: Annotated[float, typer.Option("--per-minute", min=1, help="Requests a minute at most.")] = 50,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Attempts again after a failed request.")] = 5,
    restart: Annotated[bool, typer.Option("--restart", help="Start again rather than resume.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's report as JSON.")] = False,
) -> None:
    """Fetch studies from the ClinicalTrials.gov API v2 into JSON Lines (every study when no query is given);
    an interrupted fetch resumes when run again."""
    from trialport import ctgov_api
    from trialport import fetch as fetching

    query = fetching.Query(cond, term, intr, locn, titles, spons, status, nct, near, updated_since, advanced)
    try:
        query.params()
        client = ctgov_api.ApiClient(api, per_minute=per_minute, retries=retries)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    columns = (TextColumn("fetching"), BarColumn(), TextColumn("{task.completed:,} studies"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("fetch", total=None)

        def advance(lines: int, total: int | None) -> None:
            progress.update(task, completed=lines, total=total)

        try:
            report = fetching.fetch(
                out_file, query, page_size=page_size, client=client, restart=restart, on_page=advance
            )
        except fetching.FetchError as error:
            err.print(escape(f"fetch failed: {error}"), highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print(escape(f"interrupted: run the same fetch again to resume into {out_file}"), highlight=False)
            raise typer.Exit(130) from None
        finally:
            client.close()
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict()) + b"\n")
    else:
        for line in fetching.report_lines(report):
            out.print(escape(line), highlight=False, soft_wrap=True)


@app.command("mapping-report")
def mapping_report(paths: Paths) -> None:
    """Coverage of the mapping on any input: conditions coded, time frames parsed, CAR-T targets and
    products found."""
    _check_paths(paths)
    found = coverage(pipeline.trials(paths))

    def share(part: int, whole: int) -> str:
        return f"{part:,} / {whole:,} ({part / whole:.1%})" if whole else "0 / 0"

    table = Table("measure", "value", title=f"mapping coverage over {found.trials:,} trials", title_justify="left")
    table.add_row("conditions with a code", share(found.conditions_coded, found.conditions))
    table.add_row("  with a curated code", share(found.conditions_curated, found.conditions))
    table.add_row("time frames parsed", share(found.time_frames_parsed, found.time_frames))
    for kind, count in sorted(found.time_frame_kinds.items()):
        table.add_row(f"  {kind}", f"{count:,}")
    table.add_row("CAR trials with a target antigen", share(found.car_trials_with_target, found.car_trials))
    for target, count in found.targets.most_common():
        table.add_row(f"  {target}", f"{count:,}")
    table.add_row("CAR trials naming a product", share(found.car_trials_with_product, found.car_trials))
    for product, count in found.car_products.most_common():
        table.add_row(f"  {product}", f"{count:,}")
    for role, count in sorted(found.car_roles.items()):
        table.add_row(f"CAR trials of role {role}", f"{count:,}")
    out.print(table)


@app.command()
def push(
    paths: Paths,
    server: Annotated[str, typer.Option("--server", help="FHIR base URL (http or https).")],
    fhir_version: Annotated[str, typer.Option("--fhir-version", help="R5, R4B or R4.")] = "R5",
    token_env: Annotated[
        str | None, typer.Option("--token-env", help="Environment variable holding a bearer token.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Trials per transaction.")] = 50,
    mode: Annotated[
        str, typer.Option("--mode", help="put (by stable id) or conditional (on the NCT identifier).")
    ] = "put",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and convert, send nothing.")] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify the server's TLS certificate (a test server only).")
    ] = False,
) -> None:
    """Push trials (registry records, or FHIR files exported before) to a FHIR server, idempotently."""
    _check_paths(paths)
    if fhir_version not in ("R5", "R4B", "R4"):
        raise typer.BadParameter(f"{fhir_version!r}: choose R5, R4B or R4", param_hint="--fhir-version")
    if insecure:
        err.print("warning: --insecure: the server's TLS certificate is not verified", highlight=False)
    try:
        report = fhirclient.push(paths, server, fhir_version, token_env, batch_size, mode, dry_run, insecure=insecure)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    table = Table("trial", "result", "detail", title=f"push to {escape(server)}", title_justify="left")
    for outcome in report.outcomes:
        if outcome.status == "failed" or len(report.outcomes) <= 50:
            table.add_row(escape(outcome.trial), outcome.status, escape(outcome.message))
    out.print(table)
    out.print(", ".join(f"{n:,} {status}" for status, n in sorted(report.counts().items())) or "nothing to push")
    raise typer.Exit(report.exit_code)


@app.command()
def validate(
    paths: Paths,
    fhir_version: Annotated[
        str | None, typer.Option("--fhir-version", help="R5, R4B or R4 (checked as R4B); default: as shaped.")
    ] = None,
) -> None:
    """Check FHIR files (a resource, a Bundle, NDJSON) with fhir.resources, and CDISC datasets (ts.xpt, ti.xpt)
    with the TS and TI conformance rules; other files are passed over. Exit 1 if any is invalid."""
    _check_paths(paths)
    invalid = checked = passed_over = 0
    for path in pipeline.iter_files(paths):
        if path.suffix.lower() == ".xpt":
            domain, problems = check_dataset(path)
            findings = [(str(path), domain, problems)]
        elif path.suffix.lower() in (".json", ".ndjson"):
            findings = validate_file(path, fhir_version)
        else:
            passed_over += 1
            continue
        for where, version, found in findings:
            checked += 1
            if found:
                invalid += 1
                out.print(escape(f"invalid {version} {where}"), highlight=False)
                for problem in found[:10]:
                    out.print(escape(f"  {problem}"), highlight=False, soft_wrap=True)
    other = f", {passed_over:,} other files passed over" if passed_over else ""
    out.print(f"{checked - invalid:,} valid, {invalid:,} invalid{other}", highlight=False)
    raise typer.Exit(1 if invalid else 0)


@app.command("diff")
def diff_command(
    a: Annotated[Path, typer.Argument(help="The first source (file or folder).")],
    b: Annotated[Path, typer.Argument(help="The second source, e.g. the edited endpoints.xlsx.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines, one change a line.")] = False,
) -> None:
    """What changed between two sources of the same trials: outcomes added, removed, changed field by field."""
    _check_paths([a, b])
    changes = diff([a], [b])
    if as_json:
        for change in changes:
            sys.stdout.buffer.write(orjson.dumps(change.as_dict()) + b"\n")
        return
    table = Table("trial", "change", "what", "before", "after", title=f"{len(changes)} changes", title_justify="left")
    for c in changes:
        table.add_row(*(escape(v or "") for v in (c.trial, c.change, c.what, c.before, c.after)))
    out.print(table)


@app.command()
def formats() -> None:
    """List the installed readers and exporters (built-ins and plugins alike)."""
    table = Table("kind", "name", "description", title_justify="left")
    for reader in plugins.readers():
        table.add_row("reader", reader.name, reader.description)
    for name, exporter in plugins.exporters().items():
        table.add_row("exporter", name, exporter.description)
    out.print(table)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the canonical Trial model."""
    sys.stdout.buffer.write(orjson.dumps(Trial.model_json_schema(), option=orjson.OPT_INDENT_2) + b"\n")


@app.command()
def sync(
    state_file: Annotated[Path, typer.Option("--state", help="The sync's state (SQLite), kept between runs.")],
    server: Annotated[str | None, typer.Option("--server", help="FHIR base URL (http or https).")] = None,
    cond: Cond = None,
    term: Term = None,
    intr: Intr = None,
    locn: Locn = None,
    titles: Titles = None,
    spons: Spons = None,
    status: Status = None,
    nct: Nct = None,
    near: Near = None,
    advanced: Advanced = None,
    api: Api = "https://clinicaltrials.gov/api/v2",
    per_minute: Annotated[float, typer.Option("--per-minute", min=1, help="API requests a minute at most.")] = 50,
    fhir_version: Annotated[str, typer.Option("--fhir-version", help="R5, R4B or R4.")] = "R5",
    mode: Annotated[str, typer.Option("--mode", help="put (by stable id) or conditional (on identifiers).")] = "put",
    token_env: Annotated[
        str | None, typer.Option("--token-env", help="Environment variable holding a bearer token.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Trials per transaction.")] = 50,
    delete_missing: Annotated[
        bool, typer.Option("--delete-missing", help="Delete trials the registry no longer has from the server.")
    ] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Also write this run's files here.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Formats for --out, comma-separated; default: all.")] = None,
    show_state: Annotated[
        bool, typer.Option("--show-state", help="Show what the state holds (trials, runs, failures); sync nothing.")
    ] = False,
) -> None:
    """Keep a FHIR server current with a ClinicalTrials.gov query: the first run pushes the whole query,
    each later run only what changed since (see docs/sync.md)."""
    from trialport import ctgov_api
    from trialport import sync as syncing
    from trialport.fetch import Query

    if show_state:
        try:
            lines = syncing.status_lines(state_file)
        except syncing.SyncError as error:
            err.print(escape(str(error)), highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        for line in lines:
            out.print(escape(line), highlight=False, soft_wrap=True)
        return
    if not server:
        raise typer.BadParameter("give the FHIR server to keep current", param_hint="--server")
    formats = [f.strip() for f in to.split(",") if f.strip()] if to else None
    unknown = [f for f in formats or [] if f not in plugins.exporters()]
    if unknown:
        raise typer.BadParameter(f"unknown format {', '.join(unknown)}", param_hint="--to")
    query = Query(cond, term, intr, locn, titles, spons, status, nct, near, None, advanced)
    try:
        client = ctgov_api.ApiClient(api, per_minute=per_minute)
        report = syncing.sync(
            query, server, state_file, version=fhir_version, mode=mode, token_env=token_env,
            delete_missing=delete_missing, out=out_dir, formats=formats, batch_size=batch_size, api_client=client,
        )  # fmt: skip
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    except syncing.SyncError as error:
        err.print(escape(f"sync stopped: {error}"), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        message = f"interrupted: what the server confirmed is in {state_file}; the next run completes it"
        err.print(escape(message), highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    for line in syncing.report_lines(report):
        out.print(escape(line), highlight=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)


def main() -> None:
    app()
