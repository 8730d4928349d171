#!/usr/bin/env python3
"""SMTP listener benchmark: concurrent senders against a real `manage.py smtpd`.

Run on demand from the repository root (never in CI or pytest):

    .venv/bin/python bench/smtp.py                       # 2,000 mails, 20 senders, SQLite
    .venv/bin/python bench/smtp.py --n 1000 --senders 20 \\
        --database-url postgres://postgres@127.0.0.1:5432/test

1. Generates a corpus with ../shared/bench/gen_corpus.py (--shared moves it),
   in a temporary directory, as bench/ingest.py does.
2. Migrates a fresh database (a data dir in the temporary directory for
   SQLite; for --database-url, a new database `<name>_bench_smtp` on that
   server, dropped at the end) and starts `manage.py smtpd` on a free port.
3. C sender threads (smtplib, one connection per mail, MAIL FROM the mail's
   From, `<>` for a DSN) deliver the N mails in corpus order. The accept
   latency is the DATA phase: from sending the message to reading the reply
   (the listener answers 250 only once the mail is committed).
4. Samples the listener from /proc twice a second: CPU (utime + stime of the
   listener and of its worker processes, less what they had used when the
   first mail was sent) and RSS, printed against mails accepted.
5. In the same run, the batch path's floor: the same mails through
   ingest_stream (what `manage.py ingest_email FILE...` runs) in a child
   process on another fresh database, CPU of the process and its workers.

Prints throughput, p50/p99 accept latency, CPU per mail of both and their
ratio, and the listener's RSS over time. --runs N repeats the whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SUPPORT = "support@example.com"  # gen_corpus.py's default To


# ---------------------------------------------------------------- /proc


def _stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if _stat(int(entry))[0] == pid:
                    out.append(int(entry))
            except (OSError, IndexError):
                continue
    return out


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def sample(pid: int) -> dict:
    """CPU seconds of the listener and of its workers, and their RSS."""
    workers = _children(pid)
    cpu_workers, rss_workers = 0.0, 0.0
    for child in workers:
        try:
            cpu_workers += _stat(child)[1]
            rss_workers = max(rss_workers, _rss_mb(child))
        except OSError:
            continue
    return {
        "cpu": _stat(pid)[1],
        "cpu_workers": cpu_workers,
        "rss_mb": _rss_mb(pid),
        "rss_workers_mb": rss_workers,
    }


# ---------------------------------------------------------------- databases


def fresh_database(url: str | None, data_dir: Path, suffix: str) -> dict[str, str]:
    """The environment of a child on a fresh, migrated database."""
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(data_dir),
        "HELPDESK_SUPPORT_ADDRESS": SUPPORT,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
    }
    env.pop("DATABASE_URL", None)
    if url:
        import psycopg

        parts = urlsplit(url)
        name = f"{parts.path.lstrip('/')}_bench_{suffix}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return env


def drop_database(env: dict[str, str]) -> None:
    url = env.get("DATABASE_URL")
    if not url:
        return
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def outcomes(env: dict[str, str]) -> dict[str, int]:
    code = (
        "import json; from django.db.models import Count; "
        "from mailgateway.models import InboundMessage as M; "
        "print(json.dumps(dict(M.objects.values_list('outcome').annotate(n=Count('id')))))"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the listener


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def envelope_from(raw: bytes) -> str:
    headers = BytesHeaderParser().parsebytes(raw)
    if headers.get_content_type() == "multipart/report":
        return ""  # a DSN comes with the null return path
    return parseaddr(str(headers.get("From", "")))[1]


def deliver(port: int, raw: bytes, sender: str) -> tuple[float, int]:
    """One mail over its own connection: (DATA-phase seconds, reply code)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=300) as client:
        client.ehlo("bench.example")
        client.mail(sender)
        client.rcpt(SUPPORT)
        started = time.perf_counter()
        code, _ = client.data(raw)
        return time.perf_counter() - started, code


def run_listener(
    files: list[Path], senders: int, env: dict[str, str], log_path: Path, profile: str | None
) -> dict:
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "smtpd", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit(f"the listener did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
        time.sleep(1)  # its workers forked and settled
        # On the wire every line ends in CRLF (the corpus files end theirs in LF).
        raws = [path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for path in files]
        mails = [(raw, envelope_from(raw)) for raw in raws]
        latencies: list[float] = []
        codes: dict[int, int] = {}
        lock = threading.Lock()
        todo = iter(range(len(mails)))
        samples: list[dict] = []
        done = threading.Event()
        base = sample(proc.pid)
        started = time.perf_counter()

        def sender() -> None:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                try:
                    seconds, code = deliver(port, *mails[i])
                except (smtplib.SMTPException, OSError) as exc:
                    seconds, code = 0.0, getattr(exc, "smtp_code", 0) or -1
                with lock:
                    codes[code] = codes.get(code, 0) + 1
                    if code == 250:
                        latencies.append(seconds)

        def sampler() -> None:
            while not done.wait(0.5):
                with lock:
                    accepted = len(latencies)
                samples.append(
                    {"seconds": time.perf_counter() - started, "mails": accepted} | sample(proc.pid)
                )

        spy = None
        if profile:
            # Collapsed stacks of the listener's threads and workers, idle ones left out.
            spy = subprocess.Popen(
                ["py-spy", "record", "--pid", str(proc.pid), "--subprocesses", "--threads", "--gil",
                 "--format", "raw", "--rate", "200", "--output", profile],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1)
        watch = threading.Thread(target=sampler, daemon=True)
        watch.start()
        threads = [threading.Thread(target=sender) for _ in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        done.set()
        watch.join()
        end = sample(proc.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    latencies.sort()
    return {
        "wall": wall,
        "codes": codes,
        "latencies": latencies,
        "cpu": end["cpu"] - base["cpu"],
        "cpu_workers": end["cpu_workers"] - base["cpu_workers"],
        "rss_start": base["rss_mb"],
        "samples": samples,
    }


# ---------------------------------------------------------------- the batch floor


def run_batch_child(files: list[Path]) -> dict:
    """In a child process: the mails through ingest_stream, as ingest_email runs it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)
    from mailgateway import batch

    started, cpu = time.perf_counter(), time.process_time()
    failed = 0
    for result in batch.ingest_stream(files, door="pipe"):
        failed += isinstance(result, Exception)
    wall = time.perf_counter() - started
    main_cpu = time.process_time() - cpu
    if batch._pool is not None:
        batch._pool.shutdown(wait=True)  # reaped: their CPU is counted below
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": wall,
        "cpu": main_cpu,
        "cpu_workers": workers.ru_utime + workers.ru_stime,
        "failed": failed,
    }


def run_batch(corpus: Path, n: int, env: dict[str, str]) -> dict:
    args = [sys.executable, __file__, "--child", "--corpus", str(corpus), "--n", str(n)]
    out = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"batch child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- parent


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def report(n: int, senders: int, smtp: dict, floor: dict, counts: dict[str, int]) -> None:
    lat, wall = smtp["latencies"], smtp["wall"]
    accepted = len(lat)
    cpu = (smtp["cpu"] + smtp["cpu_workers"]) / max(1, accepted) * 1e3
    floor_cpu = (floor["cpu"] + floor["cpu_workers"]) / n * 1e3
    print(
        f"listener ({senders} senders): {accepted / wall:6.1f} mails/s, "
        f"accept p50 {percentile(lat, 0.5) * 1e3:.0f} ms / p99 {percentile(lat, 0.99) * 1e3:.0f} ms"
        f" / max {(lat[-1] if lat else 0) * 1e3:.0f} ms; replies "
        + ", ".join(f"{code}: {count}" for code, count in sorted(smtp["codes"].items()))
    )
    print(
        f"  CPU per mail {cpu:5.1f} ms (listener {smtp['cpu'] / max(1, accepted) * 1e3:.1f} "
        f"+ workers {smtp['cpu_workers'] / max(1, accepted) * 1e3:.1f})"
    )
    print(
        f"batch path floor (ingest_stream): {n / floor['wall']:6.1f} mails/s, "
        f"CPU per mail {floor_cpu:5.1f} ms (main {floor['cpu'] / n * 1e3:.1f} "
        f"+ workers {floor['cpu_workers'] / n * 1e3:.1f})"
    )
    print(f"CPU ratio listener / batch path: {cpu / floor_cpu:.2f}  (goal <= 1.5)")
    print("stored:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"listener RSS over time (at the first mail: {smtp['rss_start']:.0f} MB):")
    shown = smtp["samples"]
    step = max(1, len(shown) // 10)
    for s in [*shown[::step], *shown[-1:]][:12]:
        print(
            f"  {s['seconds']:6.1f} s {s['mails']:6d} mails: RSS {s['rss_mb']:5.0f} MB"
            f" (largest worker {s['rss_workers_mb']:4.0f} MB)"
        )
    print(
        f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(the senders run on the same box; other work slows every side)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="mails in the corpus (default 2000)")
    ap.add_argument("--senders", type=int, default=20, help="concurrent senders (default 20)")
    ap.add_argument("--database-url", help="a PostgreSQL server to run on instead of SQLite")
    ap.add_argument("--runs", type=int, default=1, help="repeat the whole run (default 1)")
    ap.add_argument(
        "--shared",
        default=str(ROOT.parent / "shared"),
        help="the shared folder holding bench/gen_corpus.py (default ../shared)",
    )
    ap.add_argument("--corpus", help="use this corpus directory instead of generating one")
    ap.add_argument(
        "--profile",
        help="write py-spy's collapsed stacks of the listener (and its workers) to this file "
        "(py-spy on PATH; not a project dependency)",
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.n < 1 or a.senders < 1 or a.runs < 1:
        sys.exit("--n, --senders and --runs must be positive")

    if a.child:
        print(json.dumps(run_batch_child(sorted(Path(a.corpus).glob("*.eml"))[: a.n])))
        return

    with tempfile.TemporaryDirectory(prefix="hd-bench-smtp-") as tmp:
        corpus = Path(a.corpus) if a.corpus else Path(tmp) / "corpus"
        if not a.corpus:
            generator = Path(a.shared) / "bench" / "gen_corpus.py"
            if not generator.exists():
                sys.exit(f"no corpus generator at {generator} (use --shared)")
            print(f"generating {a.n} mails with {generator} ...", file=sys.stderr)
            subprocess.run(
                [sys.executable, str(generator), "--n", str(a.n), "--out", str(corpus)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        files = sorted(corpus.glob("*.eml"))[: a.n]
        size = sum(f.stat().st_size for f in files)
        database = "PostgreSQL" if a.database_url else "SQLite"
        print(f"corpus: {len(files)} mails, {size / 1e6:.0f} MB; {database}", file=sys.stderr)
        for run in range(1, a.runs + 1):
            if a.runs > 1:
                print(f"--- run {run} of {a.runs}")
            env = fresh_database(a.database_url, Path(tmp) / f"smtp-{run}", "smtp")
            try:
                smtp = run_listener(
                    files, a.senders, env, Path(tmp) / f"smtpd-{run}.log", a.profile
                )
                counts = outcomes(env)
            finally:
                drop_database(env)
            env = fresh_database(a.database_url, Path(tmp) / f"batch-{run}", "batch")
            try:
                floor = run_batch(corpus, len(files), env)
            finally:
                drop_database(env)
            report(len(files), a.senders, smtp, floor, counts)


if __name__ == "__main__":
    main()
