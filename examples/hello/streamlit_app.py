"""The UI of this project: reads the users from the API through fluxlit's gateway."""

import json
import os
import urllib.request

import streamlit as st

# fluxlit sets FLUXLIT_INTERNAL_API_BASE to the API mount over loopback, with the /api
# prefix included (http://127.0.0.1:8000/api): paths below start after it.
API_BASE = os.environ.get("FLUXLIT_INTERNAL_API_BASE", "http://127.0.0.1:8000/api").rstrip("/")


def load_users():
    with urllib.request.urlopen(API_BASE + "/users", timeout=5) as resp:
        return json.load(resp)


st.title("Hello from fluxlit")
try:
    users = load_users()
except (OSError, ValueError) as err:
    st.error(f"Cannot read {API_BASE}/users: {err} (run `fluxlit doctor`)")
else:
    st.write(f"{len(users)} users from the API:")
    for user in users:
        st.markdown(f"- **{user['name']}** (id {user['id']})")
