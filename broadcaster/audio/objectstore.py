"""Optional S3-compatible object storage for rendered audio (BROADCASTER_AUDIO_STORE_URL).

The local audio store stays the working cache that renders, players and nginx read; the
bucket is the durable copy shared by every machine. A render uploads its file before its
record is saved, so no record ever names audio the bucket lacks; a file missing locally
(a new web machine, a wiped disk) is fetched back, checked against its sha256 and renamed
into place. An S3 PUT is all or nothing, so a failed upload leaves no partial object.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from broadcaster.core.config import Settings
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.fsutil import replacing


class RemoteError(BroadcasterError):
    """The object store failed; `retryable` says whether trying again later may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class S3Remote:
    """One bucket and key prefix; keys mirror the local store's relative paths."""

    def __init__(self, settings: Settings) -> None:
        # boto3 is imported only where S3 is configured: it costs a third of a second.
        import boto3
        from botocore.config import Config

        url = settings.audio_store_url.removeprefix("s3://")
        self.bucket, _, prefix = url.partition("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                # Path-style addressing works with MinIO, Ceph and moto as well as AWS.
                s3={"addressing_style": "path"},
            ),
        )

    def key(self, relative: str) -> str:
        return self.prefix + relative

    def _failure(self, action: str, relative: str, exc: Exception) -> RemoteError:
        return RemoteError(f"object store: cannot {action} {self.key(relative)}: {exc}")

    def upload(self, relative: str, path: Path, *, sha256: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            with path.open("rb") as body:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.key(relative),
                    Body=body,
                    ContentType="audio/mpeg",
                    Metadata={"sha256": sha256},
                )
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._failure("upload", relative, exc) from exc

    def fetch(self, relative: str, destination: Path, *, sha256: str) -> bool:
        """Download into `destination` by rename after a sha256 check; False if absent."""
        from botocore.exceptions import BotoCoreError, ClientError

        destination.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(relative))
            # 0644 like every file of the store: nginx serves it as another user.
            with replacing(destination, mode=0o644) as temporary:
                with temporary.open("wb") as out:
                    for chunk in response["Body"].iter_chunks(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                # Raising here removes the download: a damaged object never takes the name.
                if digest.hexdigest() != sha256:
                    raise RemoteError(
                        f"object store: {self.key(relative)} does not match its sha256",
                        retryable=False,
                    )
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return False
            raise self._failure("fetch", relative, exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._failure("fetch", relative, exc) from exc

    def delete(self, relative: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(relative))
        except (BotoCoreError, ClientError) as exc:
            raise self._failure("delete", relative, exc) from exc


@lru_cache(maxsize=4)
def remote_for(settings: Settings) -> S3Remote | None:
    """One client per process and settings: building one reads botocore's data files."""
    return S3Remote(settings) if settings.audio_store_url else None
