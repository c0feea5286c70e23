"""Readers for raw EEG recordings (numpy only)."""

from .edf import read_edf
from .muse_csv import read_muse_csv
from .recording import Recording

__all__ = ["Recording", "read_edf", "read_muse_csv"]
