"""Video: faces followed through a clip's frames (the audio track goes to emofuse.audio), and the shards a
long video is split into for parallel work."""

from emofuse.video.faces import FaceSample, face_result, link_shards, track_faces, video_face_evidence

__all__ = ["FaceSample", "face_result", "link_shards", "track_faces", "video_face_evidence"]
