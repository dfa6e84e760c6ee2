"""`pathways-verify`: the model's queueing checks from the command line (M/M/c against Erlang C; Little's law
on a region's pathway), one JSON result, exit 1 when a check fails."""

from __future__ import annotations

import argparse
import json
import sys

from sim.experiment import verify as checks
from sim.experiment.verify import verify_littles_law, verify_mmc
from sim.interfaces.errors import fail
from sim.interfaces.preflight import params_or_exit
from sim.params.compose import compose_config
from sim.params.plan import Params


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="pathways-verify", description=checks.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="check", required=True)
    m = sub.add_parser("mmc", help="the model's stage as an M/M/c queue vs Erlang C")
    m.add_argument("--arrival-rate", type=float, required=True, help="arrivals per day")
    m.add_argument("--service-rate", type=float, required=True, help="services per day per server")
    m.add_argument("--servers", type=int, required=True)
    m.add_argument("--replications", type=int, default=20)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--customers", type=int, default=20000, help="expected arrivals per replication")
    ll = sub.add_parser("littles-law", help="L = lambda W per stage of the default pathway")
    ll.add_argument("--replications", type=int, default=10)
    ll.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. intervention=[childcare]")
    args = ap.parse_args(argv)
    if args.check == "mmc":
        if args.arrival_rate <= 0 or args.service_rate <= 0 or args.servers < 1 or args.replications < 2:
            ap.error("need --arrival-rate > 0, --service-rate > 0, --servers >= 1, --replications >= 2")
        if args.arrival_rate >= args.servers * args.service_rate:
            ap.error(f"unstable: arrival rate {args.arrival_rate} >= servers x service rate "
                     f"{args.servers * args.service_rate}; allowed: arrival rate < servers x service rate")
        result = verify_mmc(args.arrival_rate, args.service_rate, args.servers, args.replications, args.seed,
                            args.customers)
    else:
        result = verify_littles_law(_params(_daily(args.overrides)), args.replications)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["ok"] else 1)


def _params(overrides: list[str]) -> Params:
    try:
        cfg = compose_config(overrides)
    except Exception as e:
        fail(" ".join(str(e).split()))
    return params_or_exit(cfg, {}, overrides)


def _daily(overrides: list[str]) -> list[str]:
    """Snapshots every day unless the user chose otherwise (a fine grid for the time average)."""
    if any(o.split("=")[0].lstrip("+") == "experiment.record_every_days" for o in overrides):
        return overrides
    return [*overrides, "experiment.record_every_days=1"]
