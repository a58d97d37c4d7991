// settingsdoc.go owns the settings' documentation for people: "fluxlit config --describe"
// and the README's table of every setting are both rendered here from settingsTable, so a
// setting's description is written once, beside its name, kind and default.

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// settingFlags returns the command-line flags that set a setting ("--port" for gateway_port).
func settingFlags(name string) []string {
	var flags []string
	for f, s := range configFlags {
		if s == name {
			flags = append(flags, "--"+f)
		}
	}
	slices.Sort(flags)
	return flags
}

// settingDefault is a setting's default as a person reads it: the default's text, "(none)"
// for an empty one.
func settingDefault(s setting) string {
	switch {
	case s.def == "" && s.kind == kindList:
		return "[]"
	case s.def == "":
		return "(none)"
	case s.kind == kindString:
		return fmt.Sprintf("%q", s.def)
	case s.kind == kindList:
		return "[" + strings.Join(strings.Split(s.def, ","), ", ") + "]"
	}
	return s.def
}

// envName is the environment variable of a setting.
func envName(name string) string { return "FLUXLIT_" + strings.ToUpper(name) }

// writeSettingsDescribe is "fluxlit config --describe": each setting, its kind, default,
// environment variable and flags, and what it does.
func writeSettingsDescribe(w io.Writer) {
	fmt.Fprintf(w, "Every setting is a fluxlit.toml key (or one under [tool.fluxlit] in pyproject.toml) and a\n")
	fmt.Fprintf(w, "FLUXLIT_<NAME> environment variable (also read from .env); some have a flag. Precedence: flag >\n")
	fmt.Fprintf(w, "FluxLit app code > environment > .env > fluxlit.toml > default. \"fluxlit config\" shows the values in effect.\n\n")
	for _, s := range settingsTable {
		where := envName(s.name)
		if flags := settingFlags(s.name); len(flags) > 0 {
			where += ", " + strings.Join(flags, ", ")
		}
		secret := ""
		if s.secret {
			secret = "; secret: redacted in output, kept from the Streamlit child"
		}
		fmt.Fprintf(w, "%s (%s, default %s; %s%s)\n    %s%s\n", s.name, s.kind, settingDefault(s), where, secret, s.doc, settingRoleNote(s))
	}
}

// settingRoleNote says who acts on a setting that the gateway does not (settingRole).
func settingRoleNote(s setting) string {
	if s.role != roleGateway && s.why != "" {
		return "; " + s.why
	}
	return ""
}

// settingsMarkdown is the README's table of every setting (between the settings markers;
// TestReadmeSettings keeps the two equal, and -update rewrites the README's copy).
func settingsMarkdown() string {
	var b strings.Builder
	b.WriteString("| setting | default | flag | what it does |\n|---|---|---|---|\n")
	for _, s := range settingsTable {
		flags := settingFlags(s.name)
		for i, f := range flags {
			flags[i] = "`" + f + "`"
		}
		doc := strings.ReplaceAll(s.doc+settingRoleNote(s), "|", `\|`)
		if s.secret {
			doc += " (secret)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", s.name, settingDefault(s), strings.Join(flags, " "), doc)
	}
	return b.String()
}
