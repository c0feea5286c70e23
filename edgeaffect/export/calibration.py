"""Calibration data: batches of model inputs read through a progress bar."""

from __future__ import annotations

from typing import Iterator

import numpy as np


class CalibrationData:
    """Model inputs (already preprocessed) served in batches, with a progress
    bar, as ONNX Runtime's CalibrationDataReader and as an NNCF dataset.

    Example:
        >>> data = CalibrationData("input", np.zeros((10, 3), np.float32), batch_size=4, progress=False)
        >>> [b["input"].shape[0] for b in data.batches()]
        [4, 4, 2]
    """

    def __init__(self, input_name: str, inputs: np.ndarray, batch_size: int = 16, progress: bool = True,
                 description: str = "calibration"):
        if len(inputs) == 0:
            raise ValueError("calibration data is empty: pass at least one sample (--calib DATA)")
        self.input_name = input_name
        self.inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        self.batch_size = int(batch_size)
        self.progress = progress
        self.description = description
        self._iterator: Iterator | None = None

    def __len__(self) -> int:
        return len(self.inputs)

    def batches(self) -> Iterator[dict[str, np.ndarray]]:
        starts = range(0, len(self.inputs), self.batch_size)
        if self.progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=self.description, unit="batch")
        for s in starts:
            yield {self.input_name: self.inputs[s : s + self.batch_size]}

    # onnxruntime.quantization.CalibrationDataReader protocol
    def get_next(self):
        if self._iterator is None:
            self._iterator = self.batches()
        return next(self._iterator, None)

    def rewind(self) -> None:
        self._iterator = None
