"""An HTTP client for the Annotator API: projects, classes, uploads, pre-label jobs, label imports and exports.

Plain `requests`; no Django. Every call has a timeout, TLS certificates are verified unless the caller passes
`verify=` a CA bundle (or False, deliberately), and the token is never logged or shown in a repr.
"""

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from labeling.sdk.multipart import MultipartFile

log = logging.getLogger("labeling.sdk")

# What the server accepts, by extension (it judges by content; these are only which files a folder upload picks).
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp"})
ARCHIVE_EXTENSIONS = frozenset({".zip"})
UPLOAD_EXTENSIONS = IMAGE_EXTENSIONS | ARCHIVE_EXTENSIONS

# Colours for classes created without one (matplotlib's tab10).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")

DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds
UPLOAD_TIMEOUT = (10.0, 600.0)  # the server validates and stores each file before it answers
_PAGE_SIZE = 500


class ApiError(Exception):
    """An error answer of the API ({"message", "code", "extra"}), or a request that got no answer (status None)."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "error",
                 extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.extra = extra or {}

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no answer"
        return f"{self.message} ({where}, {self.code})"


class JobFailed(ApiError):
    """A job ended failed or cancelled; `job` is its last state."""

    def __init__(self, job: dict[str, Any]):
        status = job.get("status")
        reason = job.get("error") or ("cancelled" if status == "cancelled" else "no reason given")
        super().__init__(f"{job.get('kind', 'job')} job {job.get('id')} {status}: {reason}", code=f"job_{status}",
                         extra={"job": job})
        self.job = job


class JobTimeout(ApiError, TimeoutError):
    def __init__(self, job: dict[str, Any], timeout: float):
        super().__init__(f"job {job.get('id')} still {job.get('status')} after {timeout:g} s", code="job_timeout",
                         extra={"job": job})
        self.job = job


def _error_from(response: requests.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        return ApiError(str(body["message"]), status=response.status_code, code=str(body.get("code") or "error"),
                        extra=body.get("extra") if isinstance(body.get("extra"), dict) else {})
    reason = response.reason or "error"
    return ApiError(f"{reason} ({response.request.method} {response.url})", status=response.status_code,
                    code="http_error")


@dataclass
class FileUpload:
    """One file sent: the server's per-image results (an archive has one per member), or `error` when the
    request itself was refused (e.g. 413 too large)."""

    path: Path
    results: list[dict[str, Any]] = field(default_factory=list)
    error: ApiError | None = None
    job_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(r["status"] != "rejected" for r in self.results)


@dataclass
class UploadSummary:
    files: list[FileUpload] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(1 for f in self.files for r in f.results if r["status"] == status)

    @property
    def accepted(self) -> int:
        return self._count("accepted")

    @property
    def duplicates(self) -> int:
        return self._count("duplicate")

    @property
    def rejected(self) -> int:
        """Images the server refused, plus files whose request failed as a whole."""
        return self._count("rejected") + sum(1 for f in self.files if f.error is not None)

    @property
    def image_ids(self) -> list[int]:
        return [r["image_id"] for f in self.files for r in f.results if r["status"] == "accepted"]

    @property
    def job_ids(self) -> list[int]:
        return [f.job_id for f in self.files if f.job_id is not None]

    @property
    def problems(self) -> list[tuple[str, str, str]]:
        """(name, code, message) of every rejected image or failed file."""
        out = []
        for f in self.files:
            if f.error is not None:
                out.append((str(f.path), f.error.code, f.error.message))
            out += [(r["name"], r["code"], r["message"]) for r in f.results if r["status"] == "rejected"]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected,
                "image_ids": self.image_ids, "job_ids": self.job_ids,
                "problems": [{"name": n, "code": c, "message": m} for n, c, m in self.problems]}


def folder_files(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """The images and ZIP archives in a folder, sorted; hidden files and other extensions are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    candidates = root.rglob("*") if recursive else root.iterdir()
    return sorted(
        p for p in candidates
        if p.is_file() and p.suffix.lower() in UPLOAD_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _job_id(job: int | dict[str, Any]) -> int:
    return int(job["id"]) if isinstance(job, dict) else int(job)


class Client:
    """`Client("https://label.example.com", token)` or `Client.login(url, username, password)`."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 verify: bool | str = True, session: requests.Session | None = None):
        url = url.rstrip("/")
        if url.endswith("/api"):
            url = url[: -len("/api")]
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the URL must start with http:// or https://, not {url!r}")
        self.url = url
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.verify = verify
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "annotator-sdk/0.1"
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def __repr__(self) -> str:
        return f"Client({self.url!r})"  # never the token

    @property
    def token(self) -> str | None:
        header = self.session.headers.get("Authorization", "")
        return header.removeprefix("Token ") or None

    @classmethod
    def login(cls, url: str, username: str, password: str, **kwargs) -> "Client":
        """Trade a username and password for a token (POST /api/auth/token/)."""
        client = cls(url, **kwargs)
        token = client._request("POST", "auth/token/", json={"username": username, "password": password})["token"]
        client.session.headers["Authorization"] = f"Token {token}"
        return client

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.url}/api/{path.lstrip('/')}"

    def _send(self, method: str, path: str, *, timeout=None, **kwargs) -> requests.Response:
        url = self._url(path)
        log.debug("%s %s", method, url)
        try:
            response = self.session.request(method, url, timeout=timeout or self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(f"{method} {url} failed: {exc.__class__.__name__}: {exc}", code="network_error") from exc
        if response.status_code >= 400:
            error = _error_from(response)
            response.close()
            raise error
        return response

    def _request(self, method: str, path: str, **kwargs) -> Any:
        response = self._send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(f"{method} {response.url}: the answer is not JSON", status=response.status_code,
                           code="bad_response") from exc

    def _pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list. Page numbers, not the `next` links: those carry the host the server
        saw, which behind a proxy may not be the one this client (and its token) should talk to."""
        page = 1
        while True:
            body = self._request("GET", path, params={**(params or {}), "page": page, "page_size": _PAGE_SIZE})
            yield from body["results"]
            if not body.get("next"):
                return
            page += 1

    def _post_file(self, path: str, file: str | os.PathLike, *, field: str = "file",
                   fields: dict[str, str] | None = None, timeout=UPLOAD_TIMEOUT) -> Any:
        """POST one file from disk as multipart/form-data (streamed, never read into memory whole), with
        optional text fields. Shared by uploads and any other file endpoint."""
        body = MultipartFile(field=field, path=Path(file), fields=fields)
        try:
            return self._request("POST", path, data=body, headers={"Content-Type": body.content_type},
                                 timeout=timeout)
        finally:
            body.close()

    # -- users and projects -----------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self._request("GET", "auth/me/")

    def projects(self) -> list[dict[str, Any]]:
        return list(self._pages("projects/"))

    def project(self, project_id: int) -> dict[str, Any]:
        return self._request("GET", f"projects/{int(project_id)}/")

    def create_project(self, name: str, kind: str, classes: Iterable[dict[str, Any]] = (), *, guidelines: str = "",
                       annotators_per_image: int = 1, gold_share: float = 0.0) -> dict[str, Any]:
        """Create a project and its classes (`[{"name", "kind", "color"?, "attribute_schema"?}]`; a colour is
        picked when missing). When a class is refused the new project is deleted again and the error raised.
        Returns the project with a `classes` list."""
        classes = [dict(c) for c in classes]
        for i, label_class in enumerate(classes):
            if not label_class.get("name") or not label_class.get("kind"):
                raise ValueError(f"class {i + 1} needs a name and a kind (thing or stuff): {label_class}")
            label_class.setdefault("color", PALETTE[i % len(PALETTE)])
        project = self._request("POST", "projects/", json={
            "name": name, "kind": kind, "guidelines": guidelines, "annotators_per_image": annotators_per_image,
            "gold_share": gold_share,
        })
        created = []
        try:
            for label_class in classes:
                created.append(self.create_class(project["id"], **label_class))
        except ApiError:
            try:
                self.delete_project(project["id"])
            except ApiError:
                log.warning("could not delete project %s after a refused class", project["id"])
            raise
        return {**project, "classes": created}

    def delete_project(self, project_id: int) -> None:
        self._request("DELETE", f"projects/{int(project_id)}/")

    def classes(self, project_id: int) -> list[dict[str, Any]]:
        return self._request("GET", f"projects/{int(project_id)}/classes/")

    def create_class(self, project_id: int, name: str, kind: str, color: str | None = None, **extra) -> dict[str, Any]:
        """Add a class (`kind` thing or stuff; `order`, `attribute_schema` pass through)."""
        body = {"name": name, "kind": kind, "color": color or PALETTE[len(self.classes(project_id)) % len(PALETTE)],
                **extra}
        return self._request("POST", f"projects/{int(project_id)}/classes/", json=body)

    # -- images -----------------------------------------------------------------------------------------------

    def images(self, project_id: int, **filters: Any) -> list[dict[str, Any]]:
        """The project's images; filters as the API takes them (`state`, `split`, `search`, `gold`)."""
        return list(self._pages(f"projects/{int(project_id)}/images/", filters))

    def upload_images(self, project_id: int, paths: Iterable[str | os.PathLike], *,
                      progress: Callable[[int, int, FileUpload], Any] | None = None) -> UploadSummary:
        """Upload images and ZIP archives, one request per file so one bad file costs only itself.

        Images the server refuses (and files it refuses whole, e.g. too large) are recorded in the summary and
        the upload goes on; errors that would refuse every file (not logged in, no access, no answer) raise.
        `progress(done, total, file_upload)` is called after each file.
        """
        paths = [Path(p) for p in paths]
        summary = UploadSummary()
        endpoint = f"projects/{int(project_id)}/images/"
        for done, path in enumerate(paths, 1):
            upload = FileUpload(path=path)
            try:
                body = self._post_file(endpoint, path, field="files")
                upload.results = list(body["results"])
                upload.job_id = (body.get("job") or {}).get("id")
            except ApiError as exc:
                if exc.status is None or exc.status in (401, 403, 404):
                    raise
                if isinstance(exc.extra.get("results"), list):
                    # Nothing stored (422 nothing_accepted, 507 full disk): the answer still has each file's reason.
                    upload.results = list(exc.extra["results"])
                else:
                    upload.error = exc
            except OSError as exc:  # unreadable or vanished file
                upload.error = ApiError(f"{path}: {exc.strerror or exc}", code="unreadable_file")
            summary.files.append(upload)
            if progress is not None:
                progress(done, len(paths), upload)
        return summary

    def upload_folder(self, project_id: int, folder: str | os.PathLike, *, recursive: bool = False,
                      progress: Callable[[int, int, FileUpload], Any] | None = None) -> UploadSummary:
        """Upload a folder's images (JPEG, PNG, TIFF, WebP, BMP) and ZIP archives; other files are skipped."""
        return self.upload_images(project_id, folder_files(folder, recursive=recursive), progress=progress)

    # -- own models and jobs ----------------------------------------------------------------------------------

    def models(self, project_id: int) -> list[dict[str, Any]]:
        return self._request("GET", f"projects/{int(project_id)}/models/")

    def start_prelabel(self, model_id: int, image_ids: Iterable[int] | None = None, *, all_images: bool | None = None,
                       state: str | None = None) -> dict[str, Any]:
        """Run a model over `image_ids`, or over every image (optionally only those in task `state`) when no
        ids are given. Returns the job."""
        if image_ids is not None and all_images:
            raise ValueError("give image_ids or all_images=True, not both")
        if image_ids is not None:
            body: dict[str, Any] = {"image_ids": [int(i) for i in image_ids]}
        else:
            body = {"all": True, **({"state": state} if state else {})}
        return self._request("POST", f"models/{int(model_id)}/prelabel/", json=body)["job"]

    def job(self, job_id: int | dict[str, Any]) -> dict[str, Any]:
        return self._request("GET", f"jobs/{_job_id(job_id)}/")

    def jobs(self, project_id: int) -> list[dict[str, Any]]:
        return list(self._pages(f"projects/{int(project_id)}/jobs/"))

    def cancel_job(self, job_id: int | dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", f"jobs/{_job_id(job_id)}/cancel/")

    def wait(self, job_id: int | dict[str, Any], *, progress: Callable[[dict[str, Any]], Any] | None = None,
             timeout: float | None = None, interval: float = 0.25, max_interval: float = 5.0) -> dict[str, Any]:
        """Poll a job until it ends, backing off from `interval` to `max_interval` seconds. Returns the
        succeeded job; raises JobFailed when it failed or was cancelled, JobTimeout after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if progress is not None:
                progress(job)
            if job["status"] == "succeeded":
                return job
            if job["status"] in ("failed", "cancelled"):
                raise JobFailed(job)
            if deadline is not None and time.monotonic() >= deadline:
                raise JobTimeout(job, timeout)
            pause = interval if deadline is None else min(interval, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)
            interval = min(interval * 1.5, max_interval)

    # -- exports ----------------------------------------------------------------------------------------------

    def export_formats(self, project_id: int) -> list[dict[str, Any]]:
        """The formats the server exports: `[{"name", "title", "version", "options"}]`, `options` naming the
        export options the format takes (e.g. polygons only for coco_instances)."""
        return self._request("GET", f"projects/{int(project_id)}/exports/")["formats"]

    def class_ids(self, project_id: int, classes: Iterable[int | str]) -> list[int]:
        """Class ids for class names or ids (a name wins over a number-like string); ValueError names an unknown
        one with the project's classes. Only names cost a request."""
        classes = [classes] if isinstance(classes, str) else list(classes)
        by_name = ({c["name"]: c["id"] for c in self.classes(project_id)}
                   if any(isinstance(item, str) for item in classes) else {})
        ids = []
        for item in classes:
            if not isinstance(item, str):
                ids.append(int(item))
            elif item.strip() in by_name:
                ids.append(by_name[item.strip()])
            elif item.strip().isdigit():
                ids.append(int(item))
            else:
                raise ValueError(f"no class {item!r} in project {project_id} "
                                 f"(classes: {', '.join(by_name) or 'none'})")
        return ids

    def start_export(self, project_id: int, format: str, *, approved_only: bool = True,
                     class_ids: Iterable[int | str] | None = None, include_images: bool = False,
                     polygons: bool = False, split: str = "none", split_fractions: dict[str, float] | None = None,
                     split_seed: int = 0) -> dict[str, Any]:
        """Start an export job and return it. `format`: one of `export_formats()` (coco_instances, coco_panoptic,
        semantic_png, instance_png, pascal_voc, yolo_seg, ...). `approved_only=False` also exports the newest work
        on images not approved yet. `class_ids`: only these classes (ids or names). `polygons`: COCO instances as
        polygons instead of RLE. `split`: "none", "stored" (the images' own train/val/test) or "stratified" (by the
        classes in each image, in `split_fractions`, default {"train": 0.8, "val": 0.1, "test": 0.1}, seeded by
        `split_seed`). The server refuses a bad option with an ApiError saying which."""
        ids = None if class_ids is None else self.class_ids(project_id, class_ids)
        body = {"format": format, "approved_only": approved_only, "include_images": include_images,
                "class_ids": ids, "polygons": polygons, "split": split, "split_fractions": split_fractions,
                "split_seed": split_seed}
        return self._request("POST", f"projects/{int(project_id)}/exports/", json=body)

    def download(self, job_id: int | dict[str, Any], path: str | os.PathLike, *, sha256: str | None = None,
                 progress: Callable[[int, int | None], Any] | None = None) -> Path:
        """Stream an export job's zip to `path` (written beside it first, then renamed, so a broken download
        leaves no partial file). Checks the SHA-256 the job reported (fetched when not given)."""
        if sha256 is None:
            sha256 = self.job(job_id).get("result", {}).get("sha256")
        target = Path(path)
        partial = target.with_name(f".{target.name}.part")
        digest = hashlib.sha256()
        response = self._send("GET", f"jobs/{_job_id(job_id)}/download/", stream=True)
        total = int(response.headers["Content-Length"]) if response.headers.get("Content-Length") else None
        written = 0
        try:
            with open(partial, "wb") as out:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    if progress is not None:
                        progress(written, total)
            if sha256 and digest.hexdigest() != sha256:
                raise ApiError(f"the download's SHA-256 {digest.hexdigest()} is not the job's {sha256}",
                               code="checksum_mismatch")
            os.replace(partial, target)
        except requests.RequestException as exc:
            raise ApiError(f"download of job {_job_id(job_id)} broke off: {exc}", code="network_error") from exc
        finally:
            response.close()
            partial.unlink(missing_ok=True)
        return target

    def export(self, project_id: int, format: str, path: str | os.PathLike, *, approved_only: bool = True,
               class_ids: Iterable[int | str] | None = None, include_images: bool = False, polygons: bool = False,
               split: str = "none", split_fractions: dict[str, float] | None = None, split_seed: int = 0,
               progress: Callable[[dict[str, Any]], Any] | None = None, timeout: float | None = None) -> Path:
        """Start an export (the options as `start_export` takes them), wait for it and download its zip to `path`."""
        job = self.start_export(project_id, format, approved_only=approved_only, class_ids=class_ids,
                                include_images=include_images, polygons=polygons, split=split,
                                split_fractions=split_fractions, split_seed=split_seed)
        job = self.wait(job, progress=progress, timeout=timeout)
        return self.download(job, path, sha256=job.get("result", {}).get("sha256"))

    # -- label imports ----------------------------------------------------------------------------------------

    def import_formats(self, project_id: int) -> list[dict[str, Any]]:
        """`[{"name", "title", "accepts", "takes_void_value"}]`: the importers the server has."""
        return self._request("GET", f"projects/{int(project_id)}/imports/")["formats"]

    def import_labels(self, project_id: int, path: str | os.PathLike, *, format: str, dry_run: bool = False,
                      skip_invalid: bool = False, void_value: int | None = None, wait: bool = True,
                      progress: Callable[[dict[str, Any]], Any] | None = None,
                      timeout: float | None = None) -> dict[str, Any]:
        """Import a label file (a ZIP; for coco_instances also a bare JSON) as pre-labels; `dry_run` only checks it.
        By default all of it applies or nothing does; `skip_invalid` applies every valid item and lists the rest.
        `void_value`: a mask PNG value meaning "no label" (VOC's 255), for the formats that read mask PNGs.

        Returns the job (without `wait`, as it was started). Its `result` counts `images`, `segments`, `errors`
        and `warnings` and lists `problems` (`severity`, `code`, `where`, `message`). A failed import applied
        nothing and raises JobFailed, whose `job["result"]["problems"]` says why.
        """
        job = self._post_file(f"projects/{int(project_id)}/imports/", path,
                              fields={"format": format, "dry_run": "true" if dry_run else "false",
                                      "skip_invalid": "true" if skip_invalid else "false",
                                      **({"void_value": str(int(void_value))} if void_value is not None else {})})
        return self.wait(job, progress=progress, timeout=timeout) if wait else job
