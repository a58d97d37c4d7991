# The smallest Streamlit app fluxlit's integration tests drive: a heading and one line of text,
# so a WebSocket session can assert both strings came back through the proxy.
import streamlit as st

st.title("Hello fluxlit")
st.write("ok")
