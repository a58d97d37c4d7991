// scaffold.go owns "fluxlit new NAME": it writes the project skeleton into a new folder.
// The skeletons are embedded example folders, so the demo and a new project are the same
// files: examples/hello (fluxlit.toml, a FastAPI app.py, a Streamlit streamlit_app.py), or
// with --fluxlit examples/fluxlit-new (fluxlit.toml and a Python FluxLit app.py); both with
// a pinned requirements.txt (what Containerfile.python installs) and a .gitignore.

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
	"strings"
)

// Files whose names start with a dot are embedded only when named.
//
//go:embed examples/hello examples/fluxlit-new examples/hello/.gitignore examples/fluxlit-new/.gitignore
var scaffoldFS embed.FS

// The embedded folders whose files become the project: a plain one (FastAPI +
// streamlit_app.py) and a FluxLit one (app = FluxLit(...) with an @app.page page).
const (
	scaffoldRoot        = "examples/hello"
	scaffoldFluxLitRoot = "examples/fluxlit-new"
)

func newCommand(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("fluxlit new", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	asFluxLit := fset.Bool("fluxlit", false, "")
	if err := fset.Parse(args); err != nil {
		return usageError(stderr, fmt.Errorf("fluxlit new: %v", err))
	}
	if fset.NArg() == 0 {
		return usageError(stderr, errors.New("fluxlit new: expected one argument NAME, the folder to create (fluxlit new myapp)"))
	}
	name := fset.Arg(0)
	// Flags may follow NAME ("fluxlit new myapp --fluxlit"), as in Python FluxLit's CLI.
	if err := fset.Parse(fset.Args()[1:]); err != nil {
		return usageError(stderr, fmt.Errorf("fluxlit new: %v", err))
	}
	if fset.NArg() > 0 {
		return usageError(stderr, fmt.Errorf("fluxlit new: expected one argument NAME, got %q too", fset.Arg(0)))
	}
	if err := scaffoldCheckName(name); err != nil {
		return usageError(stderr, fmt.Errorf("fluxlit new: %v", err))
	}
	root := scaffoldRoot
	if *asFluxLit {
		root = scaffoldFluxLitRoot
	}
	written, err := scaffoldWrite(name, root)
	if err != nil {
		fmt.Fprintf(stderr, "fluxlit new: %v\n", err)
		return 1
	}
	for _, f := range written {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	fmt.Fprintf(stdout, "Created %s/ — run: cd %s && fluxlit dev\n", name, name)
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
