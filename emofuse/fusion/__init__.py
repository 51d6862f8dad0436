"""Decision-level fusion of speech and face in the 7-label fusion set: the one home of fusion.

Each modality's probabilities are projected onto ``FUSION_LABELS`` (calm -> neutral), calibrated with the
temperature on its model card, and combined by a weighted log-linear opinion pool (the product of experts; the
weighted linear pool, the sum rule, is the alternative ``FusionConfig(rule="linear")``)::

    p(y) ∝ prod_m p_m(y) ** (w_m / sum_m w_m),    w_m = prior_m * reliability_m * confidence_m * domain_m

``reliability`` is in [0, 1]: per window, for speech the voiced share of the window, for the face the share
of sampled frames with a face times a face-size term times the detector score; both are multiplied by the
model's own confidence (1 - normalised entropy, floored at 0.05). ``domain`` is how much the recording resembles
the model's training data: for speech the ``domain_match`` of its SNR (emofuse.audio.quality; a model trained on
studio audio is confidently wrong on noisy recordings), 1 for the face. A modality with no data in a window
(silence, no face, no audio track) gets weight 0, so the other carries the window alone and ``sources`` says so.
The product is the default because a weight there is an exponent: a distrusted modality's distribution is
flattened, while in a sum a peaked but distrusted modality still outvotes a flat trusted one (docs/design.md).

Data flows one way through the modules: ``calibrate`` (temperatures, confidence) -> ``evidence`` (each modality
per window) -> ``combine`` (pools, weights, FusionConfig) -> ``decide`` (timeline and clip decisions); ``learned``
(the learned fusion and its fitting) sits beside ``combine``.
"""

from emofuse.fusion.calibrate import calibrate, confidence, fit_temperature
from emofuse.fusion.combine import POOLS, FusionConfig, fuse, fusion_weights
from emofuse.fusion.decide import fuse_clip, fuse_timeline, fuse_windows
from emofuse.fusion.evidence import ModalityEvidence, clip_evidence, face_evidence, speech_evidence, time_windows
from emofuse.fusion.learned import LearnedFusion

__all__ = ["POOLS", "FusionConfig", "LearnedFusion", "ModalityEvidence", "calibrate", "clip_evidence", "confidence",
           "face_evidence", "fit_temperature", "fuse", "fuse_clip", "fuse_timeline", "fuse_windows",
           "fusion_weights", "speech_evidence", "time_windows"]
