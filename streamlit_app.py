"""The dashboard: ``make app``, ``mcc app`` or ``streamlit run streamlit_app.py``.

Thin on purpose: the navigation only. The pages live in ``mcc_app/pages/`` and call the public
functions of `synth`, `mcc_core` and `evalkit`.
"""

import streamlit as st

from mcc_app import PAGES, before_page

st.set_page_config(page_title="MCC toolkit", page_icon=":material/grain:", layout="wide")
pages = [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=k == 0)
         for k, p in enumerate(PAGES)]
page = st.navigation(pages)
before_page()  # the scenario from the link, finished probes, save/load of the session
page.run()
