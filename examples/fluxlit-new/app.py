"""A FluxLit app: the API on app.api (served under /api) and Streamlit pages with @app.page.

Run it with `fluxlit dev` (or `fluxlit run`). It needs the Python package: pip install fluxlit
"""

from fluxlit import FluxLit

app = FluxLit(title="FluxLit app")


@app.api.get("/users")
def users() -> list[dict[str, str]]:
    return [{"name": "Ada"}, {"name": "Linus"}]


@app.page("/", title="Home")
def home(st, client) -> None:
    st.title("Hello from FluxLit")
    # client calls this app's API through fluxlit (relative paths: "/users" is /api/users).
    st.write(client.get("/users").json())
