"""Native ops over numpy arrays."""

from .attention import attention, attention_reference

__all__ = ["attention", "attention_reference"]
