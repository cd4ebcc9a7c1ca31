package main

import (
	"flag"
	"fmt"
	"runtime/debug"

	"postern/internal/cliflags"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.String("config", "", "accepted for uniformity; the version does not depend on it")
	if _, err := cliflags.Parse(fs, args); err != nil {
		return 2
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Println("postern", v)
	return 0
}
