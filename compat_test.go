// compat_test.go runs the compatibility suite in compat/ (Python FluxLit's own tests,
// black-box) against both runtimes: Python FluxLit's "fluxlit" and this binary.

package main
