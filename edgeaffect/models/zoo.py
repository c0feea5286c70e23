"""The models edgeaffect ships, registered on first use of the registry.

Each model issue adds its card here (FER, EEG, explainer); until then the
registry is empty and tests register a small model of their own.
"""

SHIPPED: list = []
