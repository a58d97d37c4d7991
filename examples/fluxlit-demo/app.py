"""A Python FluxLit project that fluxlit runs unchanged.

One FluxLit object holds the API (app.api, a FastAPI app served under /api) and two
Streamlit pages; each page calls the API through `client`, FluxLit's HTTP client on the
internal API base. Some settings are made here in code: `fluxlit config` lists them with
the source app.py.

/api/public/stats and /api/items answer anyone. /api/private/report needs a bearer token,
checked by the app itself (FluxLit's make_jwt_bearer, HS256): set FLUXLIT_JWT_HS256_SECRET
(at least 32 bytes) before `fluxlit run`; issuer and audience are set below.
"""

from fastapi import Depends

from fluxlit import FluxLit, FluxlitSettings

app = FluxLit(
    title="FluxLit demo",
    settings=FluxlitSettings(
        jwt_issuer="fluxlit-demo",
        jwt_audience="fluxlit-demo-api",
        enable_security_headers=True,
        gateway_upstream_read_timeout_s=60.0,
    ),
    streamlit_page_config={"layout": "wide"},
)

# Built at import, as FluxLit's docs show: the Streamlit child imports this module too, so
# it needs FLUXLIT_JWT_HS256_SECRET as well (`fluxlit doctor` says so in its
# streamlit_child_secrets row).
require_token = app.make_jwt_bearer()

ITEMS = [{"name": "Ada Lovelace", "year": 1843}, {"name": "Grace Hopper", "year": 1952}]


@app.api.get("/public/stats")
def stats() -> dict[str, int]:
    return {"visitors": 42, "items": len(ITEMS)}


@app.api.get("/items")
def items() -> list[dict[str, object]]:
    return ITEMS


@app.api.get("/private/report")
def report(claims=Depends(require_token)) -> dict[str, str]:
    return {"report": "quarterly numbers", "for": claims.sub or ""}


@app.page("/", title="Dashboard")
def dashboard(st, client) -> None:
    st.title("Dashboard")
    data = client.get("/public/stats").json()
    st.markdown(f"Visitors: {data['visitors']}, items: {data['items']}")


@app.page("/items", title="Items")
def item_list(st, client) -> None:
    st.title("Items")
    for item in client.get("/items").json():
        st.markdown(f"- {item['name']} ({item['year']})")
