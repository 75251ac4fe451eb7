"""`annotator`: the command line over the SDK. Exit codes: 0 ok, 1 the server refused (message on stderr) or a
job failed, 2 usage (bad arguments, not logged in). `--json` prints machine-readable results on stdout; progress
bars go to stderr and only when it is a terminal."""

import argparse
import getpass
import json
import os
import re
import shutil
import sys
from typing import Any

from labeling.sdk.client import ApiError, Client, FileUpload, JobFailed, folder_files
from labeling.sdk.config import config_path, load_credentials, save_credentials

_COLOR = re.compile(r":(#[0-9a-fA-F]{6})$")


class UsageError(Exception):
    """Bad arguments found after parsing, or no credentials: exit code 2."""


class ProgressBar:
    """A one-line `\\r` bar on stderr; silent when stderr is not a terminal."""

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._drawn = 0

    def update(self, fraction: float, detail: str = "") -> None:
        if not self.enabled:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        filled = round(fraction * self.width)
        line = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:5.1f}% {detail}"
        line = line[: shutil.get_terminal_size((100, 20)).columns - 1]
        self.stream.write("\r" + line.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(line)

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0


def _class_spec(spec: str) -> dict[str, str]:
    """NAME:KIND or NAME:KIND:#RRGGBB."""
    out: dict[str, str] = {}
    match = _COLOR.search(spec)
    if match:
        out["color"] = match.group(1)
        spec = spec[: match.start()]
    name, sep, kind = spec.rpartition(":")
    if not sep or not name or kind not in ("thing", "stuff"):
        raise argparse.ArgumentTypeError(f"{spec!r}: give NAME:thing or NAME:stuff (optionally :#rrggbb)")
    return {"name": name, "kind": kind, **out}


def _id_list(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give ids separated by commas, e.g. 1,2,3") from None
    if not ids:
        raise argparse.ArgumentTypeError("give at least one id")
    return ids


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def _client() -> Client:
    credentials = load_credentials()
    if credentials is None or not credentials.token:
        raise UsageError("not logged in: run `annotator login URL --username NAME`, or set ANNOTATOR_URL and "
                         "ANNOTATOR_TOKEN")
    return Client(credentials.url, credentials.token)


def _job_bar(label: str):
    bar = ProgressBar(label)

    def progress(job: dict[str, Any]) -> None:
        bar.update(float(job.get("progress") or 0.0), job["status"])

    return bar, progress


def _job_line(job: dict[str, Any]) -> str:
    line = f"job {job['id']} {job['kind']} {job['status']} {float(job.get('progress') or 0) * 100:.0f}%"
    return line + (f": {job['error']}" if job.get("error") else "")


# -- commands ---------------------------------------------------------------------------------------------------


def cmd_login(args) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get("ANNOTATOR_PASSWORD"):
        password = os.environ["ANNOTATOR_PASSWORD"]
    else:
        password = getpass.getpass(f"Password for {args.username} at {args.url}: ")
    client = Client.login(args.url, args.username, password)
    path = save_credentials(client.url, client.token)
    if args.json:
        _print_json({"url": client.url, "username": args.username, "config": str(path)})
    else:
        print(f"logged in to {client.url} as {args.username}; token saved to {path}", file=sys.stderr)
    return 0


def cmd_whoami(args) -> int:
    client = _client()
    me = client.me()
    if args.json:
        _print_json({**me, "url": client.url})
    else:
        print(f"{me['username']} at {client.url}")
    return 0


def cmd_projects(args) -> int:
    projects = _client().projects()
    if args.json:
        _print_json(projects)
        return 0
    print(f"{'id':>6}  {'kind':<9} {'role':<10} {'images':>7}  name")
    for p in projects:
        print(f"{p['id']:>6}  {p['kind']:<9} {p['role'] or '-':<10} {p['image_count'] or 0:>7}  {p['name']}")
    return 0


def cmd_create_project(args) -> int:
    project = _client().create_project(args.name, args.kind, args.classes or [], guidelines=args.guidelines)
    if args.json:
        _print_json(project)
    else:
        print(project["id"])
        print(f"created {project['kind']} project {project['name']!r} with "
              f"{len(project['classes'])} classes", file=sys.stderr)
    return 0


def cmd_upload(args) -> int:
    files = []
    for target in args.paths:
        if os.path.isdir(target):
            files += folder_files(target, recursive=args.recursive)
        elif os.path.isfile(target):
            files.append(target)
        else:
            raise UsageError(f"no such file or folder: {target}")
    if not files:
        raise UsageError("no images or ZIP archives found (JPEG, PNG, TIFF, WebP, BMP, ZIP)")
    bar = ProgressBar("upload")

    def progress(done: int, total: int, upload: FileUpload) -> None:
        bar.update(done / total, f"{done}/{total} {upload.path.name}")

    try:
        summary = _client().upload_images(args.project_id, files, progress=progress)
    finally:
        bar.close()
    if args.json:
        _print_json(summary.as_dict())
    else:
        for name, code, message in summary.problems:
            print(f"rejected {name}: {message} ({code})", file=sys.stderr)
        print(f"{summary.accepted} uploaded, {summary.duplicates} duplicates, {summary.rejected} rejected "
              f"({len(files)} files)")
    return 1 if summary.rejected else 0


def cmd_models(args) -> int:
    models = _client().models(args.project_id)
    if args.json:
        _print_json(models)
        return 0
    print(f"{'id':>6}  {'format':<11} {'output':<16} name")
    for m in models:
        print(f"{m['id']:>6}  {m['format']:<11} {m['output']:<16} {m['name']}")
    return 0


def _follow(client: Client, job: dict[str, Any], label: str, timeout: float | None) -> dict[str, Any]:
    bar, progress = _job_bar(label)
    try:
        return client.wait(job, progress=progress, timeout=timeout)
    finally:
        bar.close()


def cmd_prelabel(args) -> int:
    client = _client()
    job = client.start_prelabel(args.model_id, args.images, state=args.state)
    if args.wait:
        job = _follow(client, job, "prelabel", args.timeout)
    if args.json:
        _print_json(job)
    else:
        print(job["id"])
        print(_job_line(job), file=sys.stderr)
    return 0


def cmd_job(args) -> int:
    client = _client()
    job = _follow(client, args.job_id, "job", args.timeout) if args.wait else client.job(args.job_id)
    if args.json:
        _print_json(job)
    else:
        print(_job_line(job))
        if job.get("result"):
            print(json.dumps(job["result"], sort_keys=True))
    return 0


def _fractions(text: str) -> dict[str, float]:
    """train=0.8,val=0.1,test=0.1 (the server checks the names and the sum)."""
    fractions = {}
    for part in (p.strip() for p in text.split(",")):
        name, _, value = part.partition("=")
        try:
            if not name.strip():
                raise ValueError(part)
            fractions[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r}: give SPLIT=FRACTION pairs, e.g. train=0.8,val=0.1,test=0.1") from None
    return fractions


def _format_line(f: dict[str, Any]) -> str:
    return f"{f['name']:<16} v{f['version']:<3} {f['title']}  [{', '.join(f.get('options', []))}]"


def _checked_format(client: Client, project_id: int, name: str | None) -> str:
    """The format, when the server exports it; else a usage error listing the server's formats."""
    formats = client.export_formats(project_id)
    if name in {f["name"] for f in formats}:
        return name
    listing = "\n".join(f"  {_format_line(f)}" for f in formats)
    problem = "give --format" if name is None else f"the server has no export format {name!r}"
    raise UsageError(f"{problem}; it exports:\n{listing}")


def cmd_export_formats(args) -> int:
    formats = _client().export_formats(args.project_id)
    if args.json:
        _print_json(formats)
    else:
        print("\n".join(_format_line(f) for f in formats))
    return 0


def cmd_export(args) -> int:
    if (args.fractions is not None or args.seed is not None) and args.split != "stratified":
        raise UsageError("--fractions and --seed apply to --split stratified")
    client = _client()
    export_format = _checked_format(client, args.project_id, args.format)
    try:
        classes = [c for c in args.classes.split(",") if c.strip()] if args.classes else None
        job = client.start_export(args.project_id, export_format, approved_only=not args.all_work, class_ids=classes,
                                  include_images=args.include_images, polygons=args.polygons, split=args.split,
                                  split_fractions=args.fractions, split_seed=args.seed or 0)
    except ValueError as exc:  # a class name the project lacks
        raise UsageError(str(exc)) from None
    job = _follow(client, job, "export", args.timeout)
    path = client.download(job, args.output, sha256=job["result"].get("sha256"))
    if args.json:
        _print_json({"job": job, "path": str(path)})
    else:
        print(path)
        splits = job["result"].get("splits")
        detail = f", split {' '.join(f'{k}={len(v)}' for k, v in sorted(splits.items()))}" if splits else ""
        print(f"exported {job['result'].get('images', '?')} images in {export_format} "
              f"({job['result'].get('bytes', '?')} bytes{detail})", file=sys.stderr)
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _import_summary(job: dict[str, Any]) -> str:
    """What an import applied (or would have), with its problem counts: the web app's summary line."""
    result = job.get("result") or {}
    counts = f"{_plural(result.get('errors', 0), 'error')}, {_plural(result.get('warnings', 0), 'warning')}"
    what = f"{_plural(result.get('images', 0), 'image')}, {_plural(result.get('segments', 0), 'segment')}"
    if job["status"] != "succeeded":
        reason = "" if result else f": {job.get('error') or job['status']}"
        return f"import {job['status']}{reason}: nothing was applied ({counts})"
    if result.get("dry_run") or not result.get("applied", True):
        return f"checked: nothing applied; {what} would be imported as pre-labels ({counts})"
    return f"imported {what} as pre-labels ({counts})"


def cmd_import(args) -> int:
    if not os.path.isfile(args.file):
        raise UsageError(f"no such file: {args.file}")
    client = _client()
    bar, progress = _job_bar("import")
    try:
        job = client.import_labels(args.project_id, args.file, format=args.format, dry_run=args.dry_run,
                                   skip_invalid=args.skip_invalid, void_value=args.void_value,
                                   progress=progress, timeout=args.timeout)
    except JobFailed as exc:  # the file had errors: nothing applied; its problems are in the result
        job = exc.job
    finally:
        bar.close()
    result = job.get("result") or {}
    if args.json:
        _print_json(job)
    else:
        for problem in result.get("problems", []):
            print(f"{problem['severity']}: {problem['where']}: {problem['message']} ({problem['code']})",
                  file=sys.stderr)
        if result.get("problems_left_off"):
            print(f"... and {result['problems_left_off']} more problems not listed", file=sys.stderr)
        print(_import_summary(job))
    return 0 if job["status"] == "succeeded" else 1


# -- parser -----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotator", description="Work with an Annotator server from the command line.",
        epilog=f"Credentials: {config_path()} (ANNOTATOR_CONFIG), or ANNOTATOR_URL + ANNOTATOR_TOKEN.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("login", parents=[common], help="get a token and save it")
    p.add_argument("url", help="the server, e.g. https://label.example.com")
    p.add_argument("--username", "-u", required=True)
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from stdin (else ANNOTATOR_PASSWORD, else a prompt)")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("whoami", parents=[common], help="the logged-in user")
    p.set_defaults(func=cmd_whoami)

    p = sub.add_parser("projects", parents=[common], help="list your projects")
    p.set_defaults(func=cmd_projects)

    p = sub.add_parser("create-project", parents=[common], help="create a project and its classes")
    p.add_argument("name")
    p.add_argument("--kind", required=True, choices=["semantic", "instance", "panoptic"])
    p.add_argument("--class", dest="classes", action="append", type=_class_spec, metavar="NAME:KIND[:#RRGGBB]",
                   help="a class, thing or stuff (repeat the option)")
    p.add_argument("--guidelines", default="", help="labeling guidelines (Markdown)")
    p.set_defaults(func=cmd_create_project)

    p = sub.add_parser("upload", parents=[common], help="upload images and ZIP archives (files or folders)")
    p.add_argument("project_id", type=int)
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--recursive", "-r", action="store_true", help="also upload from sub-folders")
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser("models", parents=[common], help="list a project's own models")
    p.add_argument("project_id", type=int)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("prelabel", parents=[common, waiting], help="run an own model as a pre-label job")
    p.add_argument("model_id", type=int)
    p.add_argument("--images", type=_id_list, metavar="ID,ID,...", help="only these images (default: all)")
    p.add_argument("--state", help="with all images: only those in this task state (e.g. new)")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")
    p.set_defaults(func=cmd_prelabel)

    p = sub.add_parser("job", parents=[common, waiting], help="show a job")
    p.add_argument("job_id", type=int)
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")
    p.set_defaults(func=cmd_job)

    p = sub.add_parser("import", parents=[common, waiting], help="import labels as pre-labels (or --dry-run)")
    p.add_argument("project_id", type=int)
    p.add_argument("file", metavar="FILE", help="a ZIP, or a COCO instances JSON")
    p.add_argument("--format", "-f", required=True,
                   help="coco_instances, coco_panoptic, mask_pngs or pascal_voc (the server lists its importers)")
    p.add_argument("--dry-run", action="store_true", help="only check the file and list its problems")
    p.add_argument("--skip-invalid", action="store_true",
                   help="apply every valid item and list the rest (default: all or nothing)")
    p.add_argument("--void-value", type=int, metavar="N",
                   help="a mask PNG value meaning no label, e.g. 255 for VOC (mask_pngs, pascal_voc)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export-formats", parents=[common], help="list the formats the server exports")
    p.add_argument("project_id", type=int)
    p.set_defaults(func=cmd_export_formats)

    p = sub.add_parser("export", parents=[common, waiting], help="export a project and download the zip")
    p.add_argument("project_id", type=int)
    p.add_argument("--format", "-f",
                   help="a format the server exports: `annotator export-formats PROJECT_ID` lists them (leaving this "
                        "out lists them too)")
    p.add_argument("--output", "-o", required=True, help="the zip file to write")
    p.add_argument("--all-work", "--all", dest="all_work", action="store_true",
                   help="all images, with the newest work on those not approved yet (default: approved ones only)")
    p.add_argument("--classes", metavar="NAME,NAME,...", help="only these classes (names or ids)")
    p.add_argument("--include-images", action="store_true", help="put the image files in the zip too")
    p.add_argument("--polygons", action="store_true",
                   help="COCO instances: polygons instead of RLE (segments with holes stay RLE)")
    p.add_argument("--split", default="none", metavar="none|stored|stratified",
                   help="stored: the images' own train/val/test; stratified: a seeded split by the classes in "
                        "each image (default: none)")
    p.add_argument("--fractions", type=_fractions, metavar="train=0.8,val=0.1,test=0.1",
                   help="with --split stratified: each split's share (default 0.8/0.1/0.1)")
    p.add_argument("--seed", type=int, help="with --split stratified: the split's seed (default 0)")
    p.set_defaults(func=cmd_export)
    return parser


def _field_errors(exc: ApiError) -> list[str]:
    """`field: message` for each refused field of a 400 (the message names only the first)."""
    fields = exc.extra.get("fields")
    if not isinstance(fields, dict) or len(fields) < 2:
        return []

    def flat(value) -> str:
        if isinstance(value, dict):
            return "; ".join(f"{k}: {flat(v)}" for k, v in value.items())
        if isinstance(value, list):
            return "; ".join(flat(v) for v in value)
        return str(value)

    return [f"{name}: {flat(value)}" for name, value in fields.items()]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on bad usage, 0 after --help
        return int(exc.code or 0)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"annotator: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"annotator: {exc}", file=sys.stderr)
        for line in _field_errors(exc):
            print(f"  {line}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"annotator: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("annotator: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
