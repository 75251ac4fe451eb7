"""Settings, all from environment variables (listed in README "Configuration").

`DJANGO_ENV=development` (the default) allows a built-in secret key and DEBUG; `DJANGO_ENV=production`
refuses to start without `DJANGO_SECRET_KEY` and turns DEBUG off unless asked.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ANNOTATOR_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_int_item(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be comma-separated integers, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


ENVIRONMENT = os.environ.get("DJANGO_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'")
PRODUCTION = ENVIRONMENT == "production"

_DEV_SECRET_KEY = "development-only-insecure-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_ENV=production")
    SECRET_KEY = _DEV_SECRET_KEY
elif PRODUCTION and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is the development key; set a real one in production")

DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if not PRODUCTION else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
if PRODUCTION:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # runserver leaves static files to WhiteNoise, so they pass annotator.isolation (COOP/COEP) as in production.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "labeling",
    "workers",
]

MIDDLEWARE = [
    # COOP + COEP on every response (static files too): SAM's decoder needs WASM threads (annotator/isolation.py).
    "annotator.isolation.CrossOriginIsolationMiddleware",
    # Outermost of ours: a request id on every request and log line, bodies over the limit refused unread, and
    # every API error (500, 503, 507 included) in the one JSON shape.
    "labeling.api.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "annotator.urls"
WSGI_APPLICATION = "annotator.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "annotator" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite by default (embedded quick start); PostgreSQL in CI and production through DATABASE_URL.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
# Health checks: a persistent connection the server dropped (a restart, pg_terminate_backend) is replaced before
# the request uses it, instead of failing that request.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
                                              conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a real worker process can share the test database; WAL and a busy timeout
    # let the web process and the worker write without "database is locked" errors.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
# The Vite build of frontend/ is served as static/app/ (built by `make run` / `make test`).
STATICFILES_DIRS = [("app", BASE_DIR / "frontend" / "dist")]
# Before the first frontend build that folder does not exist; the app shell then says how to build it.
SILENCED_SYSTEM_CHECKS = ["staticfiles.W004"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))

# Images, pyramids and label-map artifacts go through Django's storage API: local folder by default,
# any S3-compatible service with STORAGE_BACKEND=s3 (django-storages reads the AWS_* variables).
STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
if STORAGE_BACKEND == "local":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    raise ImproperlyConfigured("STORAGE_BACKEND must be 'local' or 's3'")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads stream to temporary files past 2.5 MB, so a batch of large files never sits in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ANNOTATOR_MAX_REQUEST_BODY_BYTES", 64 * 1024 * 1024)
# A folder of our own, so the reconcile sweep can remove what a killed web process left there (a spooled request
# body, an unpacked archive) without touching anything else.
FILE_UPLOAD_TEMP_DIR = os.environ.get("ANNOTATOR_UPLOAD_TEMP_DIR") or str(VAR_DIR / "tmp")
try:
    Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
except OSError:
    pass  # e.g. a read-only image building static files; an upload then says the folder is missing
# Spooled upload files are removed at once when the request fails (a full disk, a client that went away).
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "labeling.api.upload_handlers.CleaningTemporaryFileUploadHandler",
]
# Matches labeling.services.images.MAX_FILES_PER_REQUEST; more files belong in ZIP archives.
DATA_UPLOAD_MAX_NUMBER_FILES = 1000

ANNOTATOR = {
    # 20000 x 20000 fits; a decoded RGB image at this limit needs about 1.9 GB of memory.
    "MAX_IMAGE_PIXELS": env_int("ANNOTATOR_MAX_IMAGE_PIXELS", 625_000_000),
    "MAX_UPLOAD_FILE_BYTES": env_int("ANNOTATOR_MAX_UPLOAD_FILE_BYTES", 2 * 1024**3),
    "MAX_ARCHIVE_MEMBERS": env_int("ANNOTATOR_MAX_ARCHIVE_MEMBERS", 10_000),
    "MAX_ARCHIVE_BYTES": env_int("ANNOTATOR_MAX_ARCHIVE_BYTES", 20 * 1024**3),
    # A label import's JSON (COCO) is parsed whole, at about 5-10x its size in memory.
    "MAX_IMPORT_JSON_BYTES": env_int("ANNOTATOR_MAX_IMPORT_JSON_BYTES", 512 * 1024**2),
    "LABELMAP_TILE_SIZE": 512,
    "SAM_CHECKPOINT": os.environ.get("ANNOTATOR_SAM_CHECKPOINT", ""),
    "SAM_MODEL_TYPE": os.environ.get("ANNOTATOR_SAM_MODEL_TYPE", "vit_b"),
    # SAM embeddings: computed on the gpu queue after upload (when a checkpoint is configured), this many
    # images per encoder batch; the web process decodes prompts with onnxruntime on this many threads.
    "SAM_EMBED_AFTER_UPLOAD": env_bool("ANNOTATOR_SAM_EMBED_AFTER_UPLOAD", True),
    "SAM_BATCH_SIZE": env_int("ANNOTATOR_SAM_BATCH_SIZE", 0),  # 0: 4 on a GPU, 1 on the CPU
    "SAM_DECODER_THREADS": env_int("ANNOTATOR_SAM_DECODER_THREADS", 1),
    "SAM_PROPOSAL_POINTS_PER_SIDE": env_int("ANNOTATOR_SAM_PROPOSAL_POINTS_PER_SIDE", 32),
    # SAM's decoder returns masks at full image size as float32 logits (4 x 4 bytes per pixel, plus copies):
    # larger images get no SAM masks (server decode, proposals, the browser tool) rather than gigabytes.
    "SAM_MAX_MASK_PIXELS": env_int("ANNOTATOR_SAM_MAX_MASK_PIXELS", 4096 * 4096),
    # Largest TorchScript/ONNX file a manager may upload as a project's own model.
    "MAX_MODEL_BYTES": env_int("ANNOTATOR_MAX_MODEL_BYTES", 512 * 1024**2),
    # A job whose worker died this many times while running it (killed for memory, say) is failed, not retried.
    "MAX_JOB_ATTEMPTS": env_int("ANNOTATOR_MAX_JOB_ATTEMPTS", 3),
    # A running job's lease: its worker renews it every quarter of this; once it has expired the worker is taken
    # for dead and the sweep runs the job again. Independent of the broker's visibility timeout.
    "JOB_LEASE_SECONDS": env_int("ANNOTATOR_JOB_LEASE_SECONDS", 60),
    # A queued job whose message went out this long ago and never ran is sent again (doubling each time).
    "JOB_REDISPATCH_SECONDS": env_int("ANNOTATOR_JOB_REDISPATCH_SECONDS", 60),
    # How often each worker runs the reconcile sweep (0 turns it off; `manage.py reconcile` runs it by hand).
    "RECONCILE_INTERVAL_SECONDS": env_int("ANNOTATOR_RECONCILE_INTERVAL_SECONDS", 30),
    # An upload's processing job is held while its request is still adding images; a request that died is
    # taken for dead this long after its last image, and the sweep starts the job with the images it saved.
    "UPLOAD_HOLD_SECONDS": env_int("ANNOTATOR_UPLOAD_HOLD_SECONDS", 300),
    # Files in the upload temp folder older than this belong to a request that died; the sweep removes them.
    "TEMP_FILE_MAX_AGE_SECONDS": env_int("ANNOTATOR_TEMP_FILE_MAX_AGE_SECONDS", 3600),
    # Stored files that no row refers to (a request or worker killed between writing a file and its row) are
    # removed once they are this old; younger ones may belong to work in flight.
    "ORPHAN_FILE_GRACE_SECONDS": env_int("ANNOTATOR_ORPHAN_FILE_GRACE_SECONDS", 3600),
    # The largest request body, judged from Content-Length before anything is read (413): one upload file at its
    # limit plus room for the multipart framing.
    "MAX_REQUEST_BYTES": env_int("ANNOTATOR_MAX_REQUEST_BYTES",
                                 env_int("ANNOTATOR_MAX_UPLOAD_FILE_BYTES", 2 * 1024**3) + 16 * 1024**2),
    # Torch device for model runners (workers.runners.device.pick_device); empty = cuda when available.
    "DEVICE": os.environ.get("ANNOTATOR_DEVICE", ""),
    # Superpixels (click-to-fill without model weights): SLIC cell counts, computed on the image reduced so
    # its longest side is at most SUPERPIXEL_MAX_SIDE.
    "SUPERPIXEL_GRANULARITIES": [
        env_int_item("ANNOTATOR_SUPERPIXEL_GRANULARITIES", item)
        for item in env_list("ANNOTATOR_SUPERPIXEL_GRANULARITIES", ["300", "1200", "4000"])
    ],
    "SUPERPIXEL_MAX_SIDE": env_int("ANNOTATOR_SUPERPIXEL_MAX_SIDE", 2048),
    "SUPERPIXELS_AFTER_UPLOAD": env_bool("ANNOTATOR_SUPERPIXELS_AFTER_UPLOAD", True),
}

# Celery: Redis in CI and production; the embedded default is kombu's filesystem transport, a broker that
# needs no server (both the web process and the worker read and write the same folder).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(os.environ.get("ANNOTATOR_BROKER_DIR", VAR_DIR / "broker"))
    for _sub in ("queue", "processed", "control"):
        try:
            (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # a broken broker volume: the process starts, and sending or consuming says what is wrong
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (remote control) exchanges; kombu's default is ./control relative to the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
# Job rows hold results and progress; Celery's result backend is not used.
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged after it ran, and re-queued if its worker dies: tasks are idempotent (status guard).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("ANNOTATOR_CPU_QUEUE", "cpu")
# Model work goes to the GPU queue (worker-gpu in docker-compose); everything else to the CPU queue.
CELERY_GPU_QUEUE = os.environ.get("ANNOTATOR_GPU_QUEUE", "gpu")
CELERY_TASK_ROUTES = {
    name: {"queue": CELERY_GPU_QUEUE}
    for name in ("workers.tasks.compute_embeddings", "workers.tasks.segment_everything", "workers.tasks.run_prelabel",
                 "workers.tasks.train_model", "workers.tasks.check_labels")
}
if not CELERY_BROKER_URL.startswith("filesystem://"):
    # Redis re-delivers a message nobody acknowledged (its worker died) after this many seconds; it must be
    # longer than the longest task, or a running task is delivered a second time.
    _visibility_timeout = env_int("ANNOTATOR_BROKER_VISIBILITY_TIMEOUT", 3600)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _visibility_timeout,
        # Workers sweep for such messages every `unacked_restore_interval` seconds (kombu's default sweep is
        # about every 100 s); a few sweeps per timeout keep a short timeout meaningful. One cheap query each.
        "unacked_restore_interval": max(1, min(10, _visibility_timeout // 4)),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing a job's message while the broker is down fails within about a second instead of hanging the request;
# the job row stays queued and the reconcile sweep sends it when the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 3

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous API call gets 401 with a WWW-Authenticate header rather than 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "labeling.api.pagination.PageNumberPagination",
    "EXCEPTION_HANDLER": "labeling.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Annotator API",
    "DESCRIPTION": "Projects, classes, images, label maps (tiles + segment table), revisions and jobs.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc are served from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ProjectKindEnum": "labeling.models.ProjectKind",
        "ClassKindEnum": "labeling.models.ClassKind",
        "TaskStateEnum": "labeling.models.TaskState",
        "AnnotationStateEnum": "labeling.models.AnnotationState",
        "JobStatusEnum": "labeling.models.JobStatus",
        "ImageSplitEnum": "labeling.models.Split",
        "SegmentSourceEnum": "labeling.models.SegmentSource",
        "ExportSplitEnum": "labeling.api.exports.SPLIT_CHOICES",
        "EvaluationSourceEnum": "labeling.services.evaluations.SOURCES",
    },
}

LOGIN_URL = "/admin/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line names the request it belongs to (the id error bodies carry), "-" outside requests.
    "filters": {"request_id": {"()": "labeling.api.middleware.RequestIdLogFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("ANNOTATOR_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
