"""A small EDF/EDF+ reader (European Data Format, Kemp et al. 1992/2003).

Reads the ordinary signals of a continuous EDF or EDF+C file into physical
units; the "EDF Annotations" channel of EDF+ is skipped. Signals must share
one sampling rate (a clear error says otherwise).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import InputWarning
from .recording import Recording

_FIELDS = (  # per-signal header fields and their widths, in file order
    ("label", 16), ("transducer", 80), ("unit", 8), ("physical_min", 8), ("physical_max", 8),
    ("digital_min", 8), ("digital_max", 8), ("prefilter", 80), ("samples_per_record", 8), ("reserved", 32),
)


def read_edf(path: str | Path, repair_crlf: bool = False) -> Recording:
    """Reads an EDF file.

    A binary file that went through a text-mode transfer has a CR byte put
    before every LF byte, which shifts all later samples by a byte. That shows
    as samples outside the header's digital range, and reading stops with a
    ValueError that says so. `repair_crlf=True` removes those CR bytes and
    keeps the complete data records that remain (the file's last records are
    usually lost to the truncation that follows such a transfer).

    Example:
        >>> rec = read_edf("S001R03.edf", repair_crlf=True)   # doctest: +SKIP
        >>> rec.data.shape, rec.fs, rec.channel_names[:3]    # doctest: +SKIP
        ((64, 20000), 160.0, ['Fc5', 'Fc3', 'Fc1'])
    """
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 256 or not raw[:8].strip() == b"0":
        raise ValueError(f"{path} is not an EDF file (its header does not start with version '0')")
    try:
        header_bytes = int(raw[184:192])
        n_records = int(raw[236:244])
        record_seconds = float(raw[244:252])
        n_signals = int(raw[252:256])
    except ValueError as exc:
        raise ValueError(f"{path}: corrupt EDF header ({exc})") from exc
    if len(raw) < header_bytes:
        raise ValueError(f"{path}: truncated EDF header")

    fields: dict[str, list[str]] = {}
    offset = 256
    for name, width in _FIELDS:
        fields[name] = [raw[offset + i * width : offset + (i + 1) * width].decode("ascii", "replace").strip()
                        for i in range(n_signals)]
        offset += width * n_signals
    per_record = [int(v) for v in fields["samples_per_record"]]
    record_len = sum(per_record)
    payload = raw[header_bytes:]
    if repair_crlf:
        payload = payload.replace(b"\r\n", b"\n")
    available = len(payload) // (2 * record_len)
    if n_records < 0 or repair_crlf:  # -1: unknown, as written by an interrupted recorder
        if repair_crlf and 0 <= available < n_records:  # documented (the docstring), but never silent
            warnings.warn(f"{path}: after the CR repair {available} of the header's {n_records} data records are "
                          f"complete; reading those ({available * record_seconds:g} s)", InputWarning, stacklevel=2)
        n_records = min(available, n_records) if n_records >= 0 else available
    if available < n_records:
        raise ValueError(f"{path}: header says {n_records} data records but the file holds {available}")
    if n_records == 0:
        raise ValueError(f"{path}: no complete data record")

    records = np.frombuffer(payload, dtype="<i2", count=n_records * record_len).reshape(n_records, record_len)
    keep = [i for i, label in enumerate(fields["label"]) if label != "EDF Annotations"]
    starts = np.cumsum([0] + per_record)
    _check_digital_range(path, records, keep, starts, fields, payload, repair_crlf)
    rates = {per_record[i] / record_seconds for i in keep}
    if len(rates) != 1:
        raise ValueError(f"{path}: signals have different sampling rates {sorted(rates)}; resample them first")

    data = np.empty((len(keep), n_records * per_record[keep[0]]), dtype=np.float64)
    for row, i in enumerate(keep):
        digital = records[:, starts[i] : starts[i + 1]].reshape(-1).astype(np.float64)
        pmin, pmax = float(fields["physical_min"][i]), float(fields["physical_max"][i])
        dmin, dmax = float(fields["digital_min"][i]), float(fields["digital_max"][i])
        data[row] = (digital - dmin) * ((pmax - pmin) / (dmax - dmin)) + pmin
    labels = [fields["label"][i].rstrip(".") for i in keep]
    return Recording(data, rates.pop(), labels, [fields["unit"][i] for i in keep], str(path))


def _check_digital_range(path, records, keep, starts, fields, payload, repaired) -> None:
    """EDF samples lie within [digital_min, digital_max]; anything else is a corrupt file."""
    outside = 0
    for i in keep:
        block = records[:, starts[i] : starts[i + 1]]
        lo, hi = int(fields["digital_min"][i]), int(fields["digital_max"][i])
        outside += int(np.count_nonzero((block < lo) | (block > hi)))
    if outside == 0:
        return
    crlf, lf = payload.count(b"\r\n"), payload.count(b"\n")
    hint = ""
    if not repaired and lf and crlf == lf:
        hint = (f" Every LF byte in it follows a CR ({crlf} times): it was probably copied as text, which inserts "
                "a CR before each LF. Get a binary copy, or read it with repair_crlf=True (the CLI: --repair-crlf).")
    total = records.shape[0] * sum(starts[i + 1] - starts[i] for i in keep)
    # A handful of out-of-range samples is tolerated in a repaired file: the
    # repair cannot tell a CR-LF the transfer made from a rare genuine one.
    if repaired and outside <= 1e-3 * total:
        return
    raise ValueError(f"{path}: corrupt EDF data: {outside} of {total} samples lie outside the header's digital range.{hint}")
