"""A Python FluxLit app to deploy (fluxlit new --profile deploy): run "fluxlit doctor" and
"fluxlit build" before shipping it."""

from fluxlit import FluxLit

app = FluxLit(title="FluxLit Deploy Demo", streamlit_page_config={"layout": "wide"})


@app.api.get("/items")
def items():
    return [{"name": "Ada"}, {"name": "Grace"}]


@app.page("/")
def home(st, client):
    st.title("Deployment Dashboard")
    st.write(client.get("/items").json())
