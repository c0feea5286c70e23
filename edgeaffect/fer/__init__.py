"""Facial expression recognition: the Swin-SE student, its convnet teacher,
training and distillation on FER2013, the mini-Xception peer, and the face
pipeline for images, video and cameras."""

# FER2013's seven classes in the order of its class folders (alphabetical).
# The FER2013 CSV codes them differently: see edgeaffect.fer.data.CSV_CODES.
LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
