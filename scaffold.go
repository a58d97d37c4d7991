// scaffold.go owns "fluxlit new NAME": it writes the project skeleton into a new folder.
// The skeletons are embedded example folders, so the demo and a new project are the same
// files: examples/hello (fluxlit.toml, a FastAPI app.py, a Streamlit streamlit_app.py), or
// with --profile P (or --fluxlit, the minimal one) Python FluxLit's project of that name,
// examples/fluxlit-profiles/P (fluxlit.toml and an app.py with app = FluxLit(...) and an
// @app.page page); each with a pinned requirements.txt (what Containerfile.python installs)
// and a .gitignore.

package main

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Files whose names start with a dot are embedded only when named.
//
//go:embed examples/hello examples/fluxlit-profiles examples/hello/.gitignore
//go:embed examples/fluxlit-profiles/minimal/.gitignore examples/fluxlit-profiles/auth-ready/.gitignore
//go:embed examples/fluxlit-profiles/deploy/.gitignore
var scaffoldFS embed.FS

// scaffoldRoot is the embedded folder whose files become a plain project; a profile's is
// scaffoldProfilesRoot/<profile>.
const (
	scaffoldRoot         = "examples/hello"
	scaffoldProfilesRoot = "examples/fluxlit-profiles"
)

// scaffoldProfiles are Python FluxLit's "fluxlit new --profile" values.
var scaffoldProfiles = []string{"minimal", "auth-ready", "deploy"}

func newCommand(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("fluxlit new", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	profile := fset.String("profile", "", "")
	asFluxLit := fset.Bool("fluxlit", false, "") // the minimal profile
	pos, err := parseInterspersed(fset, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if len(pos) != 1 {
		return usageError(stderr, errors.New("fluxlit new: expected one argument NAME, the folder to create (fluxlit new myapp)"))
	}
	name := pos[0]
	if err := scaffoldCheckName(name); err != nil {
		return usageError(stderr, fmt.Errorf("fluxlit new: %v", err))
	}
	if *asFluxLit && *profile == "" {
		*profile = "minimal"
	}
	root, kind := scaffoldRoot, "FastAPI + Streamlit"
	if *profile != "" {
		if !slices.Contains(scaffoldProfiles, *profile) {
			return usageError(stderr, fmt.Errorf("fluxlit new: --profile %q is not one of %s", *profile, strings.Join(scaffoldProfiles, ", ")))
		}
		root, kind = path.Join(scaffoldProfilesRoot, *profile), *profile
	}
	written, err := scaffoldWrite(name, root)
	if err != nil {
		fmt.Fprintf(stderr, "fluxlit new: %v\n", err)
		return 1
	}
	for _, f := range written {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	// The README's quick start, from here on: the project's own Python, then fluxlit dev.
	// No "source .venv/bin/activate": fluxlit finds .venv itself, and an activated venv that
	// has the Python FluxLit package puts that package's own "fluxlit" command first on PATH.
	fmt.Fprintf(stdout, "Created %s/ (%s). Next:\n\n  cd %s\n  python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\n  fluxlit dev\n", name, kind, name)
	return 0
}

// scaffoldCheckName rejects what cannot be a folder name given on purpose: empty, a flag
// lookalike, control characters.
func scaffoldCheckName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("NAME must not be empty")
	}
	if strings.HasPrefix(name, "-") {
		return fmt.Errorf("NAME %q looks like a flag", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("NAME %q contains a control character", name)
		}
	}
	return nil
}

// scaffoldWrite creates dir (or uses it when it is an empty folder) and writes every
// embedded file with O_EXCL, so nothing existing is ever overwritten.
func scaffoldWrite(dir, root string) ([]string, error) {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return nil, fmt.Errorf("%s exists and is not a folder", dir)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read %s: %v", dir, errText(err))
		}
		if len(entries) > 0 {
			return nil, fmt.Errorf("%s exists and is not empty (choose another NAME)", dir)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %v", dir, errText(err))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %v", dir, errText(err))
	}
	files, err := scaffoldFiles(root)
	if err != nil {
		return nil, err
	}
	var written []string
	for _, name := range files {
		data, err := scaffoldFS.ReadFile(path.Join(root, name))
		if err != nil {
			return written, err
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := scaffoldWriteFile(dst, data); err != nil {
			return written, err
		}
		written = append(written, dst)
	}
	return written, nil
}

func scaffoldWriteFile(dst string, data []byte) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %v", dst, errText(err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %v", dst, errText(err))
	}
	return f.Close()
}

// scaffoldFiles lists the embedded files under root, relative to it, in lexical order.
func scaffoldFiles(root string) ([]string, error) {
	var names []string
	err := fs.WalkDir(scaffoldFS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, strings.TrimPrefix(p, root+"/"))
		return nil
	})
	return names, err
}
