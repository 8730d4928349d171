#!/usr/bin/env python3
"""Ingest benchmark: the whole pipeline against the standard library's floor.

Run on demand from the repository root (never in CI or pytest):

    .venv/bin/python bench/ingest.py                 # 2,000 mails
    .venv/bin/python bench/ingest.py --n 500 --profile var/ingest.prof

1. Generates a corpus with ../shared/bench/gen_corpus.py (--shared moves it; the
   corpus lives in a temporary directory, nothing is copied into the repo).
2. The floor, in a child process, on one core, standard library only: for every
   mail, email.message_from_bytes(raw, policy=policy.default), read the main
   headers and decode every leaf part. It runs before and after the pipeline
   and the mean of the two is the floor (a shared VM's speed drifts).
3. The pipeline, in another child process on a fresh SQLite data dir (migrated
   before the clock starts): the mails in arrival order through what
   `manage.py ingest_email FILE...` runs, ingest_stream(paths, door="pipe")
   (batches of 50 in one commit each, the files read, stored and prepared,
   and their attachments saved, by worker processes up to two batches ahead),
   or with --per-mail ingest_raw_email(raw, door="pipe") per mail (a
   single-mail pipe): durable raw store, parse, classify, thread, sanitise,
   tickets, outbox rows.
4. Prints mails/second for both, the ratio, the CPU per mail of the main
   process and of the workers, and RSS at 500/1000/2000 mails (current and
   peak), so a leak shows as growth between checkpoints.

Each child reads the files itself, in order, and the time includes reading them
(both sides pay the same). --profile writes a cProfile of the pipeline child;
--runs N repeats the whole measurement and prints the median ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADERS = (
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
)


def rss_mb() -> float:
    """Current resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux


def checkpoints(n: int) -> list[int]:
    marks = [m for m in (500, 1000, 2000) if m < n]
    return [*marks, n]


# ---------------------------------------------------------------- children


def run_floor(files: list[Path]) -> dict:
    import email
    from email import policy

    marks, samples = set(checkpoints(len(files))), []
    started, cpu = time.perf_counter(), time.process_time()
    for i, path in enumerate(files, 1):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for name in HEADERS:
            msg.get_all(name)
        for part in msg.walk():
            if not part.is_multipart():
                try:
                    part.get_content()
                except (LookupError, ValueError, AssertionError):
                    part.get_payload(decode=True)
        if i in marks:
            samples.append(
                {
                    "mails": i,
                    "seconds": time.perf_counter() - started,
                    "cpu": time.process_time() - cpu,
                    "rss_mb": rss_mb(),
                    "peak_mb": peak_mb(),
                }
            )
    return {"samples": samples}


def run_pipeline(files: list[Path], profile: str | None, per_mail: bool) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    import logging

    logging.disable(logging.INFO)  # one log line per mail is not what we measure
    from collections import Counter

    from mailgateway.batch import BATCH, ingest_stream
    from mailgateway.ingest import ingest_raw_email

    marks, samples, outcomes = set(checkpoints(len(files))), [], Counter()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu = time.perf_counter(), time.process_time()
    if per_mail:
        results = (ingest_raw_email(path.read_bytes(), door="pipe") for path in files)
    else:
        results = ingest_stream(files, door="pipe")  # as ingest_email FILE... does
    for i, result in enumerate(results, 1):
        if isinstance(result, Exception):
            sys.exit(f"mail {i} not stored: {result}")
        outcomes[str(result.outcome)] += 1
        if i in marks:
            samples.append(
                {
                    "mails": i,
                    "seconds": time.perf_counter() - started,
                    "cpu": time.process_time() - cpu,
                    "rss_mb": rss_mb(),
                    "peak_mb": peak_mb(),
                }
            )
    wall = time.perf_counter() - started
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    from mailgateway import batch

    if batch._pool is not None:
        batch._pool.shutdown(wait=True)  # reaped: their CPU and peak RSS are counted below
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    from mailgateway.models import InboundMessage

    quarantined = [
        f"{row.message_id or row.sha256[:12]}: {row.error[:160]}"
        for row in InboundMessage.objects.filter(outcome="quarantined")[:5]
    ]
    mode = "per mail" if per_mail else f"batches of {BATCH}"
    return {
        "workers": {
            "cpu": workers.ru_utime + workers.ru_stime,
            "peak_mb": workers.ru_maxrss / 1e3,
            "wall": wall,
        },
        "samples": samples,
        "outcomes": dict(outcomes),
        "quarantined": quarantined,
        "mode": mode,
    }


# ---------------------------------------------------------------- parent


def child(
    kind: str, corpus: Path, n: int, data_dir: Path, profile: str | None, per_mail: bool = False
) -> dict:
    env = {**os.environ, "HELPDESK_DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)  # the benchmark is defined on SQLite
    args = [sys.executable, __file__, "--child", kind, "--corpus", str(corpus), "--n", str(n)]
    if profile:
        args += ["--profile", profile]
    if per_mail:
        args.append("--per-mail")
    out = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{kind} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def rate(result: dict) -> float:
    end = result["samples"][-1]
    return end["mails"] / end["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="mails in the corpus (default 2000)")
    ap.add_argument(
        "--shared",
        default=str(ROOT.parent / "shared"),
        help="the shared folder holding bench/gen_corpus.py (default ../shared)",
    )
    ap.add_argument("--corpus", help="use this corpus directory instead of generating one")
    ap.add_argument("--profile", help="write a cProfile of the pipeline run to this file")
    ap.add_argument(
        "--per-mail",
        action="store_true",
        help="one ingest_raw_email call per mail (a single-mail pipe) instead of batches",
    )
    ap.add_argument(
        "--runs",
        type=int,
        default=1,
        help="repeat floor, pipeline, floor this many times and report the median ratio",
    )
    ap.add_argument("--child", choices=["floor", "pipeline"], help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.child:
        files = sorted(Path(a.corpus).glob("*.eml"))[: a.n]
        result = (
            run_floor(files) if a.child == "floor" else run_pipeline(files, a.profile, a.per_mail)
        )
        print(json.dumps(result))
        return

    ratios = []
    with tempfile.TemporaryDirectory(prefix="hd-bench-") as tmp:
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
        print(f"corpus: {len(files)} mails, {size / 1e6:.0f} MB", file=sys.stderr)
        for run in range(1, a.runs + 1):
            if a.runs > 1:
                print(f"--- run {run} of {a.runs}")
            # The floor before and after the pipeline: a shared VM's speed drifts
            # by 10% within a minute, and the mean of the two cancels a trend.
            before = child("floor", corpus, len(files), Path(tmp) / f"floor-{run}", None)
            data = Path(tmp) / f"data-{run}"
            pipe = child("pipeline", corpus, len(files), data, a.profile, a.per_mail)
            after = child("floor", corpus, len(files), Path(tmp) / f"floor-{run}b", None)
            ratios.append(report(before, pipe, after))
    if len(ratios) > 1:
        print(
            f"median ratio over {len(ratios)} runs: {statistics.median(ratios):.0%} "
            f"(runs: {', '.join(f'{r:.0%}' for r in ratios)})"
        )


def report(before: dict, pipe: dict, after: dict) -> float:
    """Print one run; returns its ratio."""
    f_rate = (rate(before) + rate(after)) / 2
    p_rate = rate(pipe)
    f_end, p_end = before["samples"][-1], pipe["samples"][-1]
    f_cpu = (f_end["cpu"] + after["samples"][-1]["cpu"]) / (2 * f_end["mails"]) * 1e3
    p_cpu = p_end["cpu"] / p_end["mails"] * 1e3
    print(
        f"floor    (stdlib email, 1 core): {f_rate:7.1f} mails/s  {f_cpu:5.1f} ms CPU/mail  "
        f"peak RSS {f_end['peak_mb']:.0f} MB  (before {rate(before):.1f}, after {rate(after):.1f})"
    )
    print(
        f"{'pipeline (' + pipe['mode'] + '):':32} {p_rate:7.1f} mails/s  {p_cpu:5.1f} ms CPU/mail  "
        f"peak RSS {p_end['peak_mb']:.0f} MB"
    )
    w = pipe["workers"]
    if w["cpu"]:
        cores = (p_end["cpu"] + w["cpu"]) / w["wall"]
        print(
            f"  worker processes: {w['cpu'] / p_end['mails'] * 1e3:5.1f} ms CPU/mail, "
            f"largest peak RSS {w['peak_mb']:.0f} MB; {cores:.2f} cores busy on average"
        )
    print(f"ratio pipeline/floor: {p_rate / f_rate:.0%}  (goal >= 90%)")
    print(
        f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(other work on the box slows both sides)"
    )
    print("outcomes:", ", ".join(f"{k} {v}" for k, v in sorted(pipe["outcomes"].items())))
    for line in pipe.get("quarantined", []):
        print("  quarantined:", line)
    print("pipeline memory by mails ingested:")
    for s in pipe["samples"]:
        print(
            f"  {s['mails']:5d} mails: {s['mails'] / s['seconds']:6.1f} mails/s  "
            f"RSS {s['rss_mb']:5.0f} MB  peak {s['peak_mb']:5.0f} MB"
        )
    return p_rate / f_rate


if __name__ == "__main__":
    main()
