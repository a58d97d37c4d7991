// doctor_app.go owns doctor's rows about the FluxLit app model (fluxlitapp.go): which model
// runs (app_model), what the Streamlit child of a FluxLit app can read (streamlit_child_secrets)
// and what the JWT key settings mean for this project (jwt_edge).

package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// doctorAppModel says how fluxlit will run the project, or why it cannot tell.
func doctorAppModel(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	switch {
	case !appProbeNeeded(c):
		return doctorOne("app_model", doctorSkip, "no child runs with the configured interpreter's default command")
	case c.AppErr != "" && d.py.Err != "":
		return doctorOne("app_model", doctorSkip, "needs the Python interpreter (see the python_version row)")
	case c.AppErr != "" && d.py.Report.TargetError != "":
		return doctorOne("app_model", doctorSkip, "the target does not import (see import_target)")
	case c.AppErr != "":
		return doctorOne("app_model", doctorFail, c.AppErr)
	case c.App == nil:
		return doctorOne("app_model", doctorPass, appDescribe(c))
	}
	detail := fmt.Sprintf("FluxLit %s app %s: API child on %s.api, Streamlit child on ", c.App.Version, c.Target, c.Target)
	if appUsesPageEntry(c) {
		detail += "FluxLit's page entry " + c.App.StreamlitMain
	} else {
		detail += c.StreamlitScript + " (streamlit_script)"
	}
	if len(c.App.CodeSettings) > 0 {
		detail += "; settings from " + c.App.Source + ": " + strings.Join(c.App.CodeSettings, ", ")
	}
	if w := appPagesUnserved(c); w != "" {
		return doctorOne("app_model", doctorWarn, detail+"; "+w)
	}
	return doctorOne("app_model", doctorPass, detail)
}

// doctorStreamlitChildSecrets: a FluxLit app's Streamlit child imports app.py, so it gets the
// environment that import may need, secrets included; a page could read them. The row names
// them and the way out.
func doctorStreamlitChildSecrets(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	const name = "streamlit_child_secrets"
	if c.StreamlitUpstream != "" || len(c.StreamlitCommand) > 0 {
		return doctorOne(name, doctorSkip, "fluxlit runs no Streamlit child with its environment rules (streamlit_upstream or streamlit_command is set)")
	}
	if c.App == nil {
		return doctorOne(name, doctorPass, "FLUXLIT_JWT_*, FLUXLIT_OIDC_* and secret settings are kept out of the Streamlit child")
	}
	secret := streamlitEnvDenied(nil)
	var exposed []string
	for k, v := range env {
		if v != "" && secret(k) && !slices.Contains(c.ChildEnvDeny, k) {
			exposed = append(exposed, k)
		}
	}
	sort.Strings(exposed)
	if len(exposed) == 0 {
		return doctorOne(name, doctorPass, "the Streamlit child imports "+c.App.Source+" and receives no FLUXLIT_JWT_*, FLUXLIT_OIDC_* or secret setting")
	}
	return doctorOne(name, doctorWarn, fmt.Sprintf("the Streamlit child imports %s, so it receives %s as Python FluxLit gives them (a page can read them); to keep one out, list it in child_env_deny and create what needs it lazily, not at import (e.g. make_jwt_bearer() inside the API's lifespan)",
		c.App.Source, strings.Join(exposed, ", ")))
}

// doctorJWTEdge says whether fluxlit checks tokens at the edge and what the key settings mean.
func doctorJWTEdge(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	const name = "jwt_edge"
	keys := edgeKeySettings(c)
	if len(c.JWTProtect) > 0 {
		return doctorOne(name, doctorPass, fmt.Sprintf("on: a bearer token is checked for %s under %s (key: %s)", strings.Join(c.JWTProtect, ", "), c.APIMountPath, strings.Join(keys, ", ")))
	}
	var goOnly []string
	for _, k := range keys {
		if k != "jwt_hs256_secret" && k != "jwt_jwks_url" {
			goOnly = append(goOnly, k)
		}
	}
	switch {
	case len(keys) == 0:
		return doctorOne(name, doctorPass, "off (jwt_protect is empty)")
	case len(goOnly) > 0:
		return doctorOne(name, doctorWarn, fmt.Sprintf("off, although %s is set: only jwt_protect turns the edge check on; set jwt_protect = [\"/*\"] to check tokens on the whole API", strings.Join(goOnly, ", ")))
	case c.App != nil:
		return doctorOne(name, doctorPass, fmt.Sprintf("off: %s configure the FluxLit app's own route checks (make_jwt_bearer), as in Python FluxLit; set jwt_protect to also check at the edge", strings.Join(keys, ", ")))
	}
	return doctorOne(name, doctorPass, fmt.Sprintf("off: jwt_protect = [] leaves %s to the API", strings.Join(keys, ", ")))
}
