"""How much the packaging around the signature costs, and (``--http``) how fast Apple's
web service answers a wallet through gunicorn on PostgreSQL.

In-process (the default) it prints, in one run on one core, the raw PKCS#7 signing rate of
the pass key over a manifest and the full ``.pkpass`` build rate for a card of the demo
program (pass.json with the card's next tier and movements, manifest, signature, zip: what
the web service does per pass, its database reads aside), and their ratio.
Goal: the full build at 0.65 or more of the raw signing rate.

    python bench/pkpass.py [--seconds 0.5] [--rounds 20]

With ``--http`` (``bench/pkpass_http.py``) it serves a seeded PostgreSQL database with
gunicorn (one sync worker) and measures, side by side in short alternating rounds from
two client threads, a bare ``GET /healthz``, the device's poll with nothing new (204), the
304 of an unchanged pass, the full pass download, and the raw signing rate; it prints
each rate and its ratio to the bare rate, and the full pass's to the ideal (a bare round
trip plus one raw signature). Goals: poll and 304 at 0.85 or more of the bare rate, the
full pass at 0.85 or more of the ideal.

    python bench/pkpass.py --http [--cards 500] [--database-url URL] [--rounds 6]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from app.config import Config
from app.db import make_engine
from app.demo import seed_demo
from app.migrations import upgrade
from app.wallet.facts import card_facts
from app.wallet.identity import write_development_chain
from passes.apple import sign_manifest


def rate(work: Callable[[], object], seconds: float) -> float:
    work()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            work()
        count += 50
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="per measurement")
    parser.add_argument("--rounds", type=int, default=20, help="alternating rounds")
    parser.add_argument("--http", action="store_true",
                        help="Apple's web service through gunicorn on PostgreSQL (see above; "
                             "python bench/pkpass.py --http --help for its options)")
    if "--http" in sys.argv[1:]:
        from bench.pkpass_http import main as http_main

        http_main([argument for argument in sys.argv[1:] if argument != "--http"])
        return
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    folder = Path(tempfile.mkdtemp(prefix="loyalpass-bench-"))
    write_development_chain(folder / "certs")
    config = Config(database_url=f"sqlite:///{folder / 'bench.sqlite3'}",
                    base_url="https://cards.example.com", secret_key="bench-" + "x" * 26,
                    certs_dir=folder / "certs", instance_dir=folder)
    upgrade(make_engine(config.database_url))
    app = create_app(config)
    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:
        card = seed_demo(session, instance_dir=folder).cards[0]
        wallet = runtime.wallet
        facts = card_facts(session, card)  # read once: the queries are not packaging
        package = wallet.package(card, facts=facts)
        identity = wallet.identity
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            manifest = archive.read("manifest.json")  # the real one, same size
        signing, building = [], []
        for _ in range(args.rounds):
            signing.append(rate(lambda: sign_manifest(manifest, identity), args.seconds))
            building.append(rate(lambda: wallet.package(card, facts=facts), args.seconds))
    # A shared virtual machine's speed drifts by tens of percent within seconds, so
    # the two are measured in short alternating rounds and compared round by round.
    ratios = sorted(full / raw for raw, full in zip(signing, building, strict=True))
    print(f"package size:            {len(package):>8} bytes")
    print(f"raw PKCS#7 signing:      {statistics.median(signing):>8.0f} signatures/s "
          f"(median of {args.rounds} rounds, one core; best {max(signing):.0f})")
    print(f"full .pkpass build:      {statistics.median(building):>8.0f} passes/s     "
          f"(median of {args.rounds} rounds, one core; best {max(building):.0f})")
    print(f"ratio full / raw:        {statistics.median(ratios):>8.3f}   (median of the "
          f"rounds' ratios, range {ratios[0]:.3f}-{ratios[-1]:.3f}; goal >= 0.65)")


if __name__ == "__main__":
    main()
