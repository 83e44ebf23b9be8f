"""Helpers of the Streamlit app: registry listing, cached loading, image processing, figures.

Streamlit puts the entry script's folder (``app/``) on ``sys.path``, so pages import these as
``deepguard_app.<module>``. Only `cache` and `widgets` import Streamlit.
"""
