package main

import "io"

func doctorCommand(args []string, stdout, stderr io.Writer) int      { return 0 }
func newCommand(args []string, stdout, stderr io.Writer) int         { return 0 }
func buildCommand(args []string, stdout, stderr io.Writer) int       { return 0 }
func healthcheckCommand(args []string, stdout, stderr io.Writer) int { return 0 }
