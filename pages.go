// pages.go owns "fluxlit pages manifest|validate": Python FluxLit's own page tooling, run by
// the project's interpreter in the project folder on the configured target. fluxlit does not
// re-implement pages (DESIGN §8); it finds the interpreter, the target and the settings.

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

func pagesCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "manifest" && args[0] != "validate" {
		return usageError(stderr, errors.New(`fluxlit pages: expected "manifest" or "validate" (fluxlit pages manifest)`))
	}
	sub := args[0]
	fs := flag.NewFlagSet("fluxlit pages "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	target := fs.String("target", "", "")
	configPath := fs.String("config", "", "")
	strict := false
	if sub == "validate" {
		fs.BoolVar(&strict, "strict", false, "")
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return usageError(stderr, err)
	}
	if len(pos) > 1 || len(pos) == 1 && *target != "" {
		return usageError(stderr, fmt.Errorf("%s: one TARGET at most (as the argument or --target)", fs.Name()))
	}
	if len(pos) == 1 {
		*target = pos[0]
	}
	wd, err := os.Getwd()
	if err != nil {
		return usageError(stderr, fmt.Errorf("cannot read the working directory: %v", err))
	}
	cfg, err := loadConfig(loadInput{Env: os.Environ(), WorkDir: wd, ConfigPath: *configPath, Positional: *target})
	if err != nil {
		fmt.Fprintf(stderr, "fluxlit: %v\n", err)
		return 2
	}
	argv := []string{"-m", "fluxlit", "pages", sub, "--target", cfg.Target}
	if strict {
		argv = append(argv, "--strict")
	}
	cmd := exec.Command(cfg.Python, argv...)
	cmd.Dir = cfg.ProjectDir
	cmd.Env = os.Environ()
	for k, v := range cfg.appSettingsEnv() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, io.MultiWriter(stderr, &errOut)
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && strings.Contains(errOut.String(), "No module named fluxlit"):
		fmt.Fprintf(stderr, "fluxlit: pages runs the Python package FluxLit, which %s cannot import; install it there (pip install fluxlit) or set python to the interpreter that has it\n", cfg.Python)
		return 1
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	fmt.Fprintf(stderr, "fluxlit: pages: cannot run %s: %v; install Python 3 or set python (FLUXLIT_PYTHON)\n", cfg.Python, errText(err))
	return 1
}

// parseInterspersed parses flags that may come before or after positional arguments
// ("pages validate app:app --strict"), returning the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
