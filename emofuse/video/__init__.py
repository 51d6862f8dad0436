"""Video: faces followed through a clip's frames (the audio track goes to emofuse.audio)."""

from emofuse.video.faces import FaceSample, face_result, track_faces, video_face_evidence

__all__ = ["FaceSample", "face_result", "track_faces", "video_face_evidence"]
