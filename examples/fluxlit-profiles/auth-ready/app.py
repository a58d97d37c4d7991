"""A Python FluxLit app ready for auth (fluxlit new --profile auth-ready).

Add app.make_jwt_bearer() to routes, or app.attach_oidc_login(...), once
pip install "fluxlit[auth]" is done; set jwt_protect in fluxlit.toml to have fluxlit
check tokens at the edge instead.
"""

from fluxlit import FluxLit

app = FluxLit(title="FluxLit Auth Demo")


@app.api.get("/public")
def public():
    return {"message": "public"}


@app.page("/")
def home(st, client):
    st.title("Auth-ready Dashboard")
    st.write(client.get("/public").json())
