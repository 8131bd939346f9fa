"""File transfer benchmark: upload and download a large file through `parley serve`, with
the server's memory (RSS) before, at the peak of each direction and after.

Starts its own `parley serve` (one worker; SQLite by default, or PostgreSQL + Redis) with
files in a folder under its data directory, or with `--storage s3` in a bucket of moto's
standalone S3 server on loopback (moto is a test double: its own speed and memory are not
S3's, so the s3 figures say only that the server streams). Writes a random `--size-mb` file
(default 50 MB) to disk, then `--rounds` times uploads it (multipart, streamed from disk by
httpx) and downloads it (streamed, counted, discarded), printing MB/s for each direction.
The server's RSS is read from /proc/<pid>/status every 10 ms while a transfer runs: streaming
keeps the peak near the idle figure, whatever the file size. Prints one table; nothing is
asserted.

    .venv/bin/python -m bench.files                       # 50 MB, 3 rounds, SQLite, folder
    .venv/bin/python -m bench.files --storage s3 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.send import ROOT, _free_port, start_server, stop_server

MB = 1_000_000


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class PeakRss:
    """The highest RSS of a process while the block runs (sampled on a thread)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            self._stop.wait(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib(self.pid))


def start_moto() -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    import boto3

    port = _free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit("moto_server did not start") from None
            time.sleep(0.1)
    bucket = f"bench-{secrets.token_hex(4)}"
    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    ).create_bucket(Bucket=bucket)
    return process, {
        "S3_ENDPOINT_URL": url,
        "S3_BUCKET": bucket,
        "S3_ACCESS_KEY_ID": "bench",
        "S3_SECRET_ACCESS_KEY": "bench",
        "S3_REGION": "us-east-1",
    }


async def run(
    url: str, pid: int, source: Path, size: int, rounds: int
) -> list[tuple[str, float, float]]:
    results: list[tuple[str, float, float]] = []
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        answer = await http.post(
            "/auth/register",
            json={"username": f"files_{secrets.token_hex(3)}", "password": "benchmark-pw"},
        )
        answer.raise_for_status()
        headers = {"Authorization": f"Bearer {answer.json()['accessToken']}"}
        for number in range(1, rounds + 1):
            with PeakRss(pid) as peak, source.open("rb") as handle:
                started = time.perf_counter()
                response = await http.post(
                    "/attachments",
                    files={"file": ("bench.bin", handle, "application/octet-stream")},
                    headers=headers,
                )
                elapsed = time.perf_counter() - started
            response.raise_for_status()
            attachment = response.json()
            results.append((f"upload {number}", size / MB / elapsed, peak.peak))
            digest = hashlib.sha256()
            with PeakRss(pid) as peak:
                started = time.perf_counter()
                async with http.stream(
                    "GET", f"/attachments/{attachment['id']}", headers=headers
                ) as download:
                    download.raise_for_status()
                    async for chunk in download.aiter_bytes(1024 * 1024):
                        digest.update(chunk)
                elapsed = time.perf_counter() - started
            if digest.hexdigest() != attachment["sha256"]:
                raise SystemExit("the download differs from the upload")
            results.append((f"download {number}", size / MB / elapsed, peak.peak))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    moto = None
    extra = {
        "MAX_FILE_SIZE": f"{args.size_mb + 10}MB",
        "RATE_LIMIT_UPLOADS_PER_HOUR": "1000000",
    }
    if args.storage == "s3":
        moto, s3_env = start_moto()
        extra.update(s3_env)
    with tempfile.TemporaryDirectory(prefix="parley-files-bench-") as folder:
        source = Path(folder) / "bench.bin"
        with source.open("wb") as out:
            for _ in range(args.size_mb):
                out.write(os.urandom(MB))
        process, url, cleanup = start_server(args.backend, 1, extra_env=extra)
        try:
            before = rss_mib(process.pid)
            results = asyncio.run(run(url, process.pid, source, args.size_mb * MB, args.rounds))
            after = rss_mib(process.pid)
        finally:
            stop_server(process, cleanup)
            if moto is not None:
                moto.terminate()
                moto.wait(timeout=10)
    print(
        f"{args.size_mb} MB file, {args.backend}, storage {args.storage}, "
        f"{os.cpu_count()} cores; server RSS before: {before:.0f} MiB, after: {after:.0f} MiB"
    )
    print(f"{'transfer':<12} {'MB/s':>8} {'peak RSS MiB':>13}")
    for name, rate, peak in results:
        print(f"{name:<12} {rate:>8.1f} {peak:>13.0f}")


if __name__ == "__main__":
    main()
