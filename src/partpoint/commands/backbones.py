"""``partpoint backbones {list,build}``: the default backbones and their assembled folders."""

from __future__ import annotations

NAME = "backbones"
HELP = "List the default backbones and what is assembled under $PARTPOINT_HOME, or assemble one now."


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="default backbones, where each comes from, and the assembled folders")
    build = sub.add_parser("build", help="assemble a default backbone ahead of first use")
    build.add_argument("name", nargs="?", default="default-llava",
                       help="default to assemble (default default-llava)")


def run(args) -> int:
    from ..backbones.defaults import (
        CARRIERS,
        DEFAULT_BACKBONES,
        assembled_dir,
        built_defaults,
        partpoint_home,
    )
    from ..errors import BackboneError

    if args.action == "build":
        if args.name not in DEFAULT_BACKBONES:
            raise BackboneError(f"{args.name!r} is not a default backbone; choose one of "
                                f"{', '.join(DEFAULT_BACKBONES)}")
        print(assembled_dir(args.name))
        return 0
    source = "assembled from " + " + ".join(f"{c.package}=={c.version}" for c in CARRIERS)
    for name, (arch, _) in DEFAULT_BACKBONES.items():
        print(f"{name:22s} {arch:12s} {source}")
    rows = built_defaults()
    print(f"\nassembled under {partpoint_home() / 'backbones'}:" + ("" if rows else " nothing yet"))
    for row in rows:
        state = "current" if row["current"] else "stale (sources changed; rebuilt on next use)"
        print(f"  {row['name']:20s} {row['fingerprint']}  {row['size_mb']:7.1f} MB  {state}  {row['path']}")
    return 0
