"""EEG emotion recognition: electrodes, band-feature data, the RBTransformer
model (torch, training/export only) and its training."""
