"""The `edgeaffect` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _cmd_info(args: argparse.Namespace) -> int:
    from . import info

    return info.main(["--json"] if args.json else [])


def _load_recording(args: argparse.Namespace):
    from .io import read_edf, read_muse_csv
    from .io.recording import Recording

    if args.synthetic:
        # 10 s of 8-channel noise with a 10 Hz (alpha) rhythm on channel 0.
        rng = np.random.default_rng(args.seed)
        fs = args.fs or 256.0
        t = np.arange(int(10 * fs)) / fs
        data = rng.standard_normal((8, t.size)) * 5.0
        data[0] += 20.0 * np.sin(2 * np.pi * 10.0 * t)
        return Recording(data, fs, [f"ch{i}" for i in range(8)], ["uV"] * 8, "synthetic")
    if args.recording is None:
        raise SystemExit("edgeaffect bde: give a recording (.edf or muse-lsl .csv) or --synthetic")
    path = Path(args.recording)
    if not path.exists():
        raise SystemExit(f"edgeaffect bde: {path} does not exist")
    if path.suffix.lower() == ".edf":
        rec = read_edf(path, repair_crlf=args.repair_crlf)
        return rec if args.fs is None else Recording(rec.data, args.fs, rec.channel_names, rec.units, rec.source)
    if path.suffix.lower() == ".csv":
        return read_muse_csv(path, fs=args.fs)
    raise SystemExit(f"edgeaffect bde: {path.suffix} files are not supported; use .edf or a muse-lsl .csv")


def _cmd_bde(args: argparse.Namespace) -> int:
    from .features import BAND_NAMES, band_differential_entropy, resolve_bands

    rec = _load_recording(args)
    window = int(round(args.window * rec.fs))
    hop = int(round(args.hop * rec.fs))
    n = 0 if rec.data.shape[1] < window else (rec.data.shape[1] - window) // hop + 1
    if n == 0:
        raise SystemExit(f"edgeaffect bde: the recording has {rec.data.shape[1]} samples, fewer than one "
                         f"{args.window} s window ({window} samples)")
    starts = np.arange(n) * hop
    windows = np.stack([rec.data[:, s : s + window] for s in starts]).astype(np.float32)
    de = band_differential_entropy(windows, rec.fs, bands=args.bands, order=args.order, threads=args.threads)
    names = list(BAND_NAMES.get(args.bands, [f"{lo:g}-{hi:g}Hz" for lo, hi in resolve_bands(args.bands, rec.fs)]))
    if args.out:
        np.savez(args.out, de=de, window_start_s=starts / rec.fs, channels=np.array(rec.channel_names),
                 bands=np.array(names), fs=rec.fs)
        print(f"wrote {args.out}: de {de.shape} (windows, channels, bands)")
    mean = de.mean(axis=0)
    print(f"{rec.source}: {rec.data.shape[0]} channels, {rec.fs:g} Hz, {n} windows of {args.window} s "
          f"(hop {args.hop} s); mean DE (nats) per channel:")
    print("channel".ljust(10) + "".join(b.rjust(11) for b in names))
    for name, row in zip(rec.channel_names[: args.show], mean[: args.show]):
        print(name.ljust(10) + "".join(f"{v:11.3f}" for v in row))
    if len(rec.channel_names) > args.show:
        print(f"... {len(rec.channel_names) - args.show} more channels (--show N)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeaffect", description="Emotion sensing on edge devices.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="build facts: version, compiler, SIMD, OpenMP, CUDA")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("bde", help="band differential entropy of a recording (EDF or muse-lsl CSV)")
    p.add_argument("recording", nargs="?", help=".edf or muse-lsl .csv file")
    p.add_argument("--synthetic", action="store_true", help="use 10 s of synthetic 8-channel EEG instead of a file")
    p.add_argument("--fs", type=float, default=None, help="sampling rate in Hz (default: from the file)")
    p.add_argument("--window", type=float, default=1.0, help="window length in seconds (default 1)")
    p.add_argument("--hop", type=float, default=0.5, help="hop between windows in seconds (default 0.5)")
    p.add_argument("--bands", default="torcheeg", help="band preset: torcheeg or deap (default torcheeg)")
    p.add_argument("--order", type=int, default=5, help="Butterworth order per band (default 5)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--repair-crlf", action="store_true",
                   help="repair an EDF file that was copied in text mode (a CR before every LF byte)")
    p.add_argument("--out", help="write the tokens to this .npz file")
    p.add_argument("--show", type=int, default=8, help="channels to print (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed for --synthetic")
    p.set_defaults(func=_cmd_bde)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"edgeaffect {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
