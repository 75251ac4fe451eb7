"""Where the CLI keeps its URL and token: `$ANNOTATOR_CONFIG`, else `~/.config/annotator/credentials.json`
(`$XDG_CONFIG_HOME` when set), readable by its owner only. `ANNOTATOR_URL` and `ANNOTATOR_TOKEN` override it."""

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str | None


def config_path() -> Path:
    if os.environ.get("ANNOTATOR_CONFIG"):
        return Path(os.environ["ANNOTATOR_CONFIG"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "annotator" / "credentials.json"


def save_credentials(url: str, token: str, path: Path | None = None) -> Path:
    """Write {url, token} with mode 0600, atomically (a temporary file in the same folder, then renamed)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as out:
            json.dump({"url": url, "token": token}, out)
            out.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_credentials(path: Path | None = None) -> Credentials | None:
    """The environment's URL and token, else the saved ones. A saved token is only used for the URL it was
    issued by: ANNOTATOR_URL pointing elsewhere does not receive it."""
    saved: dict = {}
    path = path or config_path()
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
    url = os.environ.get("ANNOTATOR_URL") or saved.get("url")
    if not url:
        return None
    token = os.environ.get("ANNOTATOR_TOKEN")
    if not token and saved.get("url", "").rstrip("/") == url.rstrip("/"):
        token = saved.get("token")
    return Credentials(url=url, token=token)
