// doctor_verbose.go owns "fluxlit doctor --verbose": the effective configuration in Python
// FluxLit's shape (resolved_target, effective, openapi, extras, streamlit_sidecar,
// gateway_proxy, pages, settings_redacted, project_defaults, or import_failed), as JSON and as
// its text lines, with fluxlit's extras added: every setting with its source, and derived.

package main

import (
	"fmt"
	"io"
	"strings"
)

// doctorVerbose builds the "verbose" object. cfg is nil when the configuration did not load.
func doctorVerbose(cfg *Config, target string, env map[string]string, py doctorPython) map[string]any {
	if cfg == nil || py.Report.TargetError != "" {
		return map[string]any{"resolved_target": target, "import_failed": true}
	}
	nilIfEmpty := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var allow any
	if len(cfg.ForwardedAllowIPs) > 0 {
		allow = strings.Join(cfg.ForwardedAllowIPs, ",")
	}
	pages := py.Report.Pages
	if pages == nil {
		pages = []map[string]string{}
	}
	openapi := map[string]any{"openapi_url": nil, "docs_url": nil, "redoc_url": nil}
	for k, v := range py.Report.OpenAPI {
		if v != nil {
			openapi[k] = *v
		}
	}
	return map[string]any{
		"resolved_target":   cfg.Target,
		"pages":             pages,
		"settings_redacted": cfg.redactedSettings(),
		"effective": map[string]any{
			"api_mount_path":             cfg.APIMountPath,
			"public_mount_path":          cfg.RootPath,
			"gateway_bind":               cfg.listenAddr(),
			"internal_api_base_derived":  cfg.internalAPIBase(cfg.GatewayPort),
			"internal_api_base_env":      nilIfEmpty(strings.TrimSpace(env["FLUXLIT_INTERNAL_API_BASE"])),
			"public_base_url":            nilIfEmpty(redactURLCredentials(cfg.PublicBaseURL)),
			"trust_proxy":                cfg.TrustProxy,
			"forwarded_allow_ips":        allow,
			"url_session_query_param":    cfg.URLSessionQuery,
			"url_session_fluxlit_tests":  env["FLUXLIT_TESTS"] != "",
			"url_session_force_in_tests": env["FLUXLIT_FORCE_URL_SESSION_IN_TESTS"] != "",
			"url_session_disabled":       env["FLUXLIT_DISABLE_URL_SESSION"] != "",
		},
		"openapi": openapi,
		"extras": map[string]any{
			"pyjwt_available":              py.Report.Extras.PyJWT,
			"prometheus_client_available":  py.Report.Extras.PrometheusClient,
			"streamlit_apptest_version_ok": py.Report.Extras.AppTestOK,
		},
		"streamlit_sidecar": map[string]any{
			"fluxlit_managed_runtime": cfg.StreamlitUpstream == "",
			"upstream_file_set":       strings.TrimSpace(env["FLUXLIT_STREAMLIT_UPSTREAM_FILE"]) != "",
			"upstream_url_set":        cfg.StreamlitUpstream != "",
		},
		"gateway_proxy": map[string]any{
			"upstream_connect_timeout_s":   cfg.ConnectTimeoutS,
			"upstream_read_timeout_s":      cfg.ReadTimeoutS,
			"ws_open_timeout_s":            cfg.WSOpenTimeoutS,
			"max_proxy_request_body_bytes": cfg.MaxBodyBytes,
			"max_concurrent_upstream_http": settingFieldValue(cfg, "gateway_max_concurrent_upstream_http"),
			"forward_client_headers_http":  cfg.ForwardClientHeaders,
		},
		"project_defaults": configProjectFile(cfg),
		// fluxlit's: each setting's value with its source, and what is derived from them.
		"settings": configRows(cfg),
		"derived":  configDerived(cfg),
	}
}

// doctorWriteVerboseText writes the verbose block as Python FluxLit's lines, then fluxlit's
// table of every setting with its source.
func doctorWriteVerboseText(w io.Writer, cfg *Config, v map[string]any) {
	fmt.Fprint(w, "\n--- Verbose (effective configuration; secrets redacted) ---\n")
	if v["import_failed"] == true {
		fmt.Fprintln(w, "import_failed: true (see FAIL import_target or config_file row above).")
		fmt.Fprintln(w, "Tip: run fluxlit from the project folder, or fix the row above.")
		return
	}
	eff := v["effective"].(map[string]any)
	pyStr := func(x any) string {
		switch s := x.(type) {
		case nil:
			return "None"
		case string:
			return pyRepr(s)
		case bool:
			return map[bool]string{true: "True", false: "False"}[s]
		}
		return fmt.Sprint(x)
	}
	fmt.Fprintf(w, "resolved_target: %s\n", v["resolved_target"])
	fmt.Fprintf(w, "gateway_bind (resolved): %s\n", eff["gateway_bind"])
	fmt.Fprintf(w, "api_mount_path: %s\n", pyStr(eff["api_mount_path"]))
	fmt.Fprintf(w, "public_mount_path: %s\n", pyStr(eff["public_mount_path"]))
	fmt.Fprintf(w, "internal_api_base (derived for Streamlit): %s\n", pyStr(eff["internal_api_base_derived"]))
	if eff["internal_api_base_env"] != nil {
		fmt.Fprintf(w, "internal_api_base (env override): %s\n", pyStr(eff["internal_api_base_env"]))
	}
	fmt.Fprintf(w, "public_base_url: %s\n", pyStr(eff["public_base_url"]))
	fmt.Fprintf(w, "trust_proxy: %s\n", pyStr(eff["trust_proxy"]))
	fmt.Fprintf(w, "forwarded_allow_ips: %s\n", pyStr(eff["forwarded_allow_ips"]))
	oa := v["openapi"].(map[string]any)
	fmt.Fprintf(w, "openapi: openapi_url=%s docs_url=%s redoc_url=%s\n", pyStr(oa["openapi_url"]), pyStr(oa["docs_url"]), pyStr(oa["redoc_url"]))
	ex := v["extras"].(map[string]any)
	fmt.Fprintf(w, "extras: pyjwt=%s prometheus_client=%s streamlit_apptest_ok=%s\n", pyStr(ex["pyjwt_available"]), pyStr(ex["prometheus_client_available"]), pyStr(ex["streamlit_apptest_version_ok"]))
	fmt.Fprintln(w, "pages:")
	for _, p := range v["pages"].([]map[string]string) {
		fmt.Fprintf(w, "  - path=%s title=%s handler=%s\n", pyRepr(p["path"]), pyRepr(p["title"]), p["handler"])
	}
	fmt.Fprintln(w)
	writeConfigText(w, cfg, nil)
}
