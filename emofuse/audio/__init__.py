"""Speech: features (NumPy), voice activity detection, and the shipped speech emotion classifier."""
