"""Where files live: the local disk on one machine, an S3-compatible bucket in a newsroom.

Kept out of settings.py so that the choice can be tested on its own; it reads only the mapping
it is given and imports nothing from Django's settings.
"""

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

S3_BACKEND = "storages.backends.s3.S3Storage"
FILESYSTEM_BACKEND = "django.core.files.storage.FileSystemStorage"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer; got {raw!r}") from None


def default_storage_from_env(env: Mapping[str, str]) -> dict:
    """The `STORAGES["default"]` entry for this environment.

    With `STORAGE_BUCKET` set, originals and derivatives go to that bucket through
    django-storages. Objects are written without a public ACL (they inherit the bucket's, which
    must be private), and any URL the storage hands out is a signed one that expires after
    `STORAGE_URL_EXPIRE` seconds; the app itself serves originals only through its
    permission-checked download view, which streams them from the bucket.
    """
    bucket = (env.get("STORAGE_BUCKET") or "").strip()
    if not bucket:
        return {"BACKEND": FILESYSTEM_BACKEND}

    from botocore.config import Config

    options = {
        "bucket_name": bucket,
        # Never a canned public ACL; buckets with ACLs disabled (the AWS default) reject any.
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": _int(env, "STORAGE_URL_EXPIRE", 300),
        # Like the local disk: a name that exists gets a new one rather than being replaced,
        # so an original, once stored, is never overwritten.
        "file_overwrite": False,
        "location": (env.get("STORAGE_PREFIX") or "").strip().strip("/"),
        "client_config": Config(
            connect_timeout=_int(env, "STORAGE_CONNECT_TIMEOUT", 5),
            read_timeout=_int(env, "STORAGE_READ_TIMEOUT", 60),
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": (env.get("STORAGE_ADDRESSING_STYLE") or "auto").strip()},
            signature_version="s3v4",
        ),
    }
    optional = {
        "endpoint_url": "STORAGE_ENDPOINT_URL",
        "region_name": "STORAGE_REGION",
        "access_key": "STORAGE_ACCESS_KEY",
        "secret_key": "STORAGE_SECRET_KEY",
    }
    for option, name in optional.items():
        value = (env.get(name) or "").strip()
        if value:
            options[option] = value
    # Without explicit keys boto3 finds credentials itself (AWS_* variables, an instance role).
    if ("access_key" in options) != ("secret_key" in options):
        raise ImproperlyConfigured(
            "Set both STORAGE_ACCESS_KEY and STORAGE_SECRET_KEY, or neither."
        )
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}
