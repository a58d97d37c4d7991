"""Python FluxLit's own command line, with its JSON log formatter on: the Python side of the
compatibility suite. "pyfluxlit.py ARGS" is "fluxlit ARGS" from the Python package; one more
word, "gateway TARGET PORT", serves Python FluxLit's gateway over the Streamlit named by
FLUXLIT_STREAMLIT_UPSTREAM (its create_gateway_app, what its "fluxlit dev --reload" serves),
because its "fluxlit run" always starts a Streamlit of its own.
"""

import logging
import os
import sys
import warnings

warnings.simplefilter("ignore")
sys.path.insert(0, os.getcwd())  # the project, as when "fluxlit" runs in its folder

from fluxlit.logging.json_formatter import JsonLogFormatter  # noqa: E402

handler = logging.StreamHandler(sys.stderr)
handler.setFormatter(JsonLogFormatter())
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(os.environ.get("COMPAT_LOG_LEVEL", "INFO"))

if sys.argv[1:2] == ["gateway"]:
    import uvicorn

    from fluxlit.config import FluxlitSettings

    target, port = sys.argv[2], int(sys.argv[3])
    os.environ["FLUXLIT_APP"] = target
    # Proxy trust as run_unified sets it (uvicorn's own default trusts loopback).
    settings = FluxlitSettings()
    allow = (settings.forwarded_allow_ips or "*") if settings.trust_proxy else None
    uvicorn.run("fluxlit.runtime:create_gateway_app", factory=True, host="127.0.0.1", port=port, log_level="warning",
                proxy_headers=settings.trust_proxy, forwarded_allow_ips=allow)
else:
    from fluxlit.cli import main

    sys.argv = ["fluxlit", *sys.argv[1:]]
    main()
