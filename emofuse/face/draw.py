"""Draw face boxes and labels on images (for --annotate, the app and the live view)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emofuse.labels import colour_rgb
from emofuse.media import load_image


def annotate(image: np.ndarray, faces: list[dict]) -> np.ndarray:
    """A copy of an RGB image with each face's box and ``label 87%`` (track id if any) drawn on it; a face marked
    ``speaking`` gets a box twice as thick and "speaking" in its tag."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    thickness = max(2, round(max(out.shape[:2]) / 400))
    for face in faces:
        x0, y0, x1, y1 = (int(round(v)) for v in face["box"])
        label = face.get("label") or "?"
        colour = colour_rgb(label)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thickness * (2 if face.get("speaking") else 1))
        share = face.get("probabilities", {}).get(label, 0.0)
        text = f"{label} {share:.0%}" + (f" #{face['track_id']}" if "track_id" in face else "") \
            + (" speaking" if face.get("speaking") else "")
        scale = max(0.5, (x1 - x0) / 250)
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(0, y0 - h - base - 4)
        cv2.rectangle(out, (x0, top), (x0 + w + 6, top + h + base + 4), colour, -1)
        cv2.putText(out, text, (x0 + 3, top + h + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return out


def annotate_file(source: str | Path, faces: list[dict], target: str | Path) -> Path:
    """Annotate the image at ``source`` and write it to ``target`` (format from its suffix)."""
    import cv2

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    drawn = cv2.cvtColor(annotate(load_image(source), faces), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(target.suffix or ".png", drawn)
    if not ok:
        raise ValueError(f"cannot encode {target}")
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data.tobytes())
    tmp.replace(target)
    return target
