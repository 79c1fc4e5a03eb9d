"""The dashboard's page scripts, run by `st.navigation` from `streamlit_app.py` (not imported)."""
