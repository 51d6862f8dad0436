"""The Streamlit web app (``emofuse app``): a thin layer over emofuse.pipeline and emofuse.live."""
