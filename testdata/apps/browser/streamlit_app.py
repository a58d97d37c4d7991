# The app the browser tests drive (browser_app_test.go) through fluxlit, on the oldest supported
# and the newest Streamlit: a home page with the users read from the API through fluxlit, a
# counter button, a text input, a file uploader that shows the file's SHA-256, an image and a
# download button; and a second page, so navigation and deep links can be checked. Every value
# the tests assert on is one "label: value" line of text a person would read.
import hashlib
import json
import os
import struct
import urllib.request
import zlib

import streamlit as st

# fluxlit sets this to its own API mount over loopback: the users come through the gateway.
API_BASE = os.environ.get("FLUXLIT_INTERNAL_API_BASE", "http://127.0.0.1:8000/api").rstrip("/")

# The download's bytes: every byte value, so a proxy that re-encodes text would be caught.
DOWNLOAD = bytes(range(256)) * 64 + b"fluxlit download end\n"


def png(width, height):
    """A width x height RGB PNG (a red-to-blue gradient), made without Pillow."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((255 * x // width, 64, 255 - 255 * x // width)) for x in range(width))
        for _ in range(height)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def home():
    st.title("fluxlit browser test")
    try:
        with urllib.request.urlopen(API_BASE + "/users", timeout=5) as resp:
            users = json.load(resp)
        st.markdown("users: " + ", ".join(f"{u['id']}={u['name']}" for u in users))
    except (OSError, ValueError) as err:
        st.error(f"users: cannot read {API_BASE}/users: {err}")

    if "clicks" not in st.session_state:
        st.session_state.clicks = 0
    if st.button("Count"):
        st.session_state.clicks += 1
    st.markdown(f"clicks: {st.session_state.clicks}")

    name = st.text_input("Your name")
    st.markdown(f"hello: {name or '(nobody)'}")

    uploaded = st.file_uploader("Upload a file")
    digest = hashlib.sha256(uploaded.getvalue()).hexdigest() if uploaded else "(none)"
    st.markdown(f"upload sha256: {digest}")

    st.image(png(96, 48), caption="gradient")
    st.download_button("Download data", data=DOWNLOAD, file_name="fluxlit-download.bin",
                       mime="application/octet-stream")


def second():
    st.title("Second page")
    st.markdown("second page: reached")


st.navigation([
    st.Page(home, title="Home", default=True),
    st.Page(second, title="Second page", url_path="second"),
]).run()
