"""Runs web (gunicorn), a Celery worker and the one beat in the foreground until Ctrl-C.

Used by `make run`; in production run the three as separate services instead (README).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
VAR_DIR = Path(os.environ.get("VAR_DIR", ROOT / "var"))


def commands(port: str, bind: str) -> dict[str, list[str]]:
    # The three start at the same moment; on a fresh var/ they agree on one generated key
    # (config/keyfiles.py). `make run` has made it already (migrate, seed_demo) in any case.
    return {
        "web": [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"{bind}:{port}", "--workers", "2",
                "--access-logfile", "-", "--graceful-timeout", "10"],
        "worker": [str(BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2",
                   "--hostname", "worker@%h"],
        "beat": [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "INFO",
                 "--schedule", str(VAR_DIR / "celerybeat-schedule")],
    }  # fmt: skip


def banner(port: str) -> None:
    client_id = os.environ.get("DEMO_CLIENT_ID", "demo-client")
    secret = os.environ.get("DEMO_CLIENT_SECRET", "demo-secret")
    base = f"http://localhost:{port}"
    print(
        f"""
Invoice Service running on {base}  (admin: {base}/admin/, API docs: {base}/api/docs/)
Try it:
  TOKEN=$(curl -s -X POST {base}/oauth/token -d grant_type=client_credentials \\
            -d client_id={client_id} -d client_secret={secret} | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  JOB=$(curl -s -X POST {base}/invoice/demo/jobs/invoices -H "Authorization: Bearer $TOKEN" \\
            -H 'Content-Type: application/json' -d '{{"jobType":"MANUAL","orderIds":["DEMO-1001","DEMO-1002"]}}' \\
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobId"])')
  curl -s {base}/invoice/demo/jobs/invoices/$JOB -H "Authorization: Bearer $TOKEN" | python3 -m json.tool
Emails land in var/mail/*.eml, PDFs in var/media/invoices/. Ctrl-C stops everything.
""",
        flush=True,
    )


def main() -> int:
    port = os.environ.get("PORT", "8000")
    # Local only by default: the demo client and admin have well-known credentials. BIND=0.0.0.0
    # (plus ALLOWED_HOSTS/PUBLIC_BASE_URL naming the host) serves other machines.
    bind = os.environ.get("BIND", "127.0.0.1")
    os.chdir(ROOT)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name, argv in commands(port, bind).items():
        # each in its own process group, so Ctrl-C reaches them once, through us
        processes[name] = subprocess.Popen(argv, start_new_session=True)
    banner(port)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the others", file=sys.stderr)
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.5)
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
