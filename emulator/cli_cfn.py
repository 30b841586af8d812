"""`pipemu import` and `pipemu export`: CloudFormation templates in, CloudFormation (or the
get-pipeline JSON) out. Both work on files (the pipelines folder), not through the daemon: the
local stand-ins (projects, functions, schedules) are not part of AWS's API."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml


def register(main: click.Group) -> None:
    @main.command("import")
    @click.argument("template", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--parameter", "-p", "parameters", multiple=True, metavar="KEY=VALUE",
                  help="A template parameter (overrides its Default).")
    @click.option("--map", "-m", "maps", multiple=True, metavar="KIND:NAME=VALUE",
                  help="repo:NAME=FOLDER, bucket:NAME=FOLDER, code:FUNCTION=FOLDER, image:AWS_IMAGE=LOCAL_IMAGE, "
                       "import:EXPORT=VALUE.")
    @click.option("--stack-name", default=None, help="AWS::StackName (default: the template's file name).")
    @click.option("--out", "out", default="pipelines", show_default=True, type=click.Path(file_okay=False, path_type=Path),
                  help="The pipelines folder to write the definitions into.")
    def import_command(template: Path, parameters: tuple[str, ...], maps: tuple[str, ...], stack_name: str | None,
                       out: Path) -> None:
        """Translate a CloudFormation TEMPLATE (pipelines, CodeBuild projects, Lambda functions,
        schedules) into definition files in --out; IAM roles, buckets and the like are listed as
        ignored; anything that cannot be translated is an error naming resource and property."""
        from emulator.definitions.cfn_import import TemplateError, import_template, parse_assignments

        name = stack_name or template.stem
        try:
            result = import_template(template, parse_assignments(list(parameters)), parse_assignments(list(maps)),
                                     stack_name=name, code_dir=Path("functions") / name)
        except (TemplateError, ValueError) as error:
            click.echo(f"pipemu: {error}", err=True)
            sys.exit(1)
        planned = {out / f"{(d.get('pipeline') or {}).get('name') or name}.yml": d for d in result.definitions}
        clash = _clash(out, planned, name)
        if clash:
            click.echo(f"pipemu: {clash}; import this template again under another stack name (--stack-name NAME: "
                       "generated names are NAME-LogicalId) or give the clashing names other --parameter values", err=True)
            sys.exit(1)
        out.mkdir(parents=True, exist_ok=True)
        for relative, text in result.files.items():
            path = out / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            click.echo(f"wrote {path}")
        for definition in result.definitions:
            pipeline = (definition.get("pipeline") or {}).get("name") or name
            path = out / f"{pipeline}.yml"
            path.write_text(f"# Imported from {template} by pipemu import (stack {name}).\n"
                            + yaml.safe_dump(definition, sort_keys=False))
            click.echo(f"wrote {path}")
        for ignored in result.ignored:
            click.echo(f"ignored {ignored} (not emulated)")
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)

    @main.command("export")
    @click.argument("pipeline")
    @click.option("--pipelines", "folder", default="pipelines", show_default=True,
                  type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--format", "fmt", type=click.Choice(["cloudformation", "json"]), default="cloudformation",
                  show_default=True)
    def export_command(pipeline: str, folder: Path, fmt: str) -> None:
        """Print PIPELINE of the pipelines folder as a CloudFormation template (with its CodeBuild
        projects, Lambda functions, approval topics, schedules and the event rules whose pattern names it, and parameters for what is local) or as the
        `aws codepipeline get-pipeline` JSON."""
        from emulator.definitions import load_folder
        from emulator.definitions.cfn_export import export_cloudformation, export_json, exported_rules

        loaded = load_folder(folder)
        if pipeline not in loaded.pipelines:
            click.echo(f"pipemu: no pipeline {pipeline} in {folder}" + (" (it has errors)" if loaded.errors else ""), err=True)
            sys.exit(1)
        declaration = loaded.pipelines[pipeline][1]
        if fmt == "json":
            click.echo(export_json(declaration))
            return
        schedules = [schedule for _, schedule, target in loaded.schedules if target == pipeline]
        rules = exported_rules([rule for _, rule in loaded.event_rules], pipeline)  # those naming it
        click.echo(export_cloudformation(declaration, loaded.projects, loaded.functions, schedules,
                                         loaded.repositories, loaded.topics,
                                         [t for _, t in loaded.custom_action_types], rules,
                                         webhooks=loaded.webhooks), nl=False)


SECTIONS = ("repositories", "projects", "functions", "stacks", "buckets", "clusters")


def _clash(out: Path, planned: dict[Path, dict], stack: str) -> str | None:
    """What of an import would take a name another file of `out` declares: a pipeline or a
    resource declared by a file that this import does not rewrite, or by a file an import of
    another stack wrote (re-importing the same stack rewrites its own files)."""
    if not out.is_dir():
        return None
    from emulator.definitions import load_folder

    mine = f"(stack {stack})."
    declared: dict[tuple[str, str], Path] = {}
    for path, loaded in load_folder(out).files.items():
        definition = loaded.definition
        if definition is None or not path.is_file():
            continue
        if path in planned and mine in path.read_text().splitlines()[0]:
            continue  # ours, written by an earlier import of this stack: rewritten
        if definition.pipeline is not None:
            declared[("pipeline", definition.pipeline.name)] = path
        for section in SECTIONS:
            for key in getattr(definition, section):
                declared[(section, key)] = path
    for definition in planned.values():
        pipeline = (definition.get("pipeline") or {}).get("name")
        wanted = ([("pipeline", pipeline)] if pipeline else []) + [
            (section, key) for section in SECTIONS for key in definition.get(section) or {}]
        for kind, key in wanted:
            if (kind, key) in declared:
                noun = "pipeline" if kind == "pipeline" else {"repositories": "repository"}.get(kind, kind[:-1])
                return f"{noun} {key} is already declared in {declared[(kind, key)]}"
    return None
