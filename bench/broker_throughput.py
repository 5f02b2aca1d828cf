"""How many messages a second one worker takes off the embedded (filesystem) broker, at two polling intervals.

    .venv/bin/python bench/broker_throughput.py [-n 400] [--concurrency 2] [--interval 0.05]

Runs `celery -A config worker` as Procfile.dev does (threads pool, prefetch 1,
late acks) on the filesystem transport in a temporary folder, publishes N
no-op tasks (`celery.accumulate`) up front and times the worker draining them
(counted in its log), first at kombu's default polling interval of 1 s (the
reference: what the worker did before CELERY_BROKER_POLLING_INTERVAL), then at
`--interval` (the setting's default). The figure is the broker and consumer
alone: a real task adds its own time on top.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KOMBU_DEFAULT_INTERVAL = 1.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--interval", type=float, default=None,
                        help="polling interval to measure (default: the setting's default)")
    return parser.parse_args()


def environment(tmp: Path, interval: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp / "var"),
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "CELERY_BROKER_POLLING_INTERVAL": str(interval),
            "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}


def measure(interval: float, messages: int, concurrency: int) -> float:
    """Messages/s one worker drains at `interval`."""
    with tempfile.TemporaryDirectory(prefix="switchyard-broker-") as name:
        tmp = Path(name)
        env = environment(tmp, interval)
        log = tmp / "worker.log"
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
                   "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                   "--without-heartbeat"]
        publisher = subprocess.run(  # publish from a process of its own, on the same settings
            [sys.executable, "-c", "import sys\nfrom config.celery import app\n"
             "for n in range(int(sys.argv[1])): app.send_task('celery.accumulate', args=(n,))\n", str(messages)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        if publisher.returncode:
            raise SystemExit(publisher.stderr)
        with open(log, "wb") as out:
            worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while b" ready." not in log.read_bytes():
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the worker did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.05)
            started = time.monotonic()
            timeout = messages / 0.5 + 60
            while log.read_bytes().count(b" succeeded in ") < messages:
                if time.monotonic() - started > timeout or worker.poll() is not None:
                    raise SystemExit(f"the worker did not drain the queue:\n{log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.05)
            return messages / (time.monotonic() - started)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)


def main() -> None:
    args = parse_args()
    if args.interval is None:
        os.environ.pop("CELERY_BROKER_POLLING_INTERVAL", None)
        os.environ.pop("REDIS_URL", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.conf import settings

        args.interval = settings.CELERY_BROKER_TRANSPORT_OPTIONS["polling_interval"]
    print(f"filesystem broker; one worker, threads pool x {args.concurrency}, prefetch 1; "
          f"{args.messages} no-op messages queued up front")
    reference = measure(KOMBU_DEFAULT_INTERVAL, args.messages, args.concurrency)
    print(f"polling {KOMBU_DEFAULT_INTERVAL:g} s (kombu's default, reference): {reference:,.1f} messages/s")
    figure = measure(args.interval, args.messages, args.concurrency)
    print(f"polling {args.interval:g} s (CELERY_BROKER_POLLING_INTERVAL): {figure:,.1f} messages/s "
          f"({figure / reference:.1f}x)")


if __name__ == "__main__":
    main()
