package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"postern/internal/cliflags"
	"postern/internal/srskeys"
)

const srsUsage = `usage: postern srs rotate|status [-config FILE]
       postern srs forward|reverse ADDRESS [-config FILE]

rotate adds a new signing key to DATA_DIR/srs/secrets (the older ones
still check); status shows [srs] and the keys; forward prints the SRS
address of a sender; reverse checks one and prints what it stands for.`

// runSrs is `postern srs rotate|status|forward|reverse`.
func runSrs(args []string) int { return srsCmd(args, os.Stdout, os.Stderr) }

func srsCmd(args []string, out, errw io.Writer) int {
	positional := map[string]int{"rotate": 0, "status": 0, "forward": 1, "reverse": 1}
	if len(args) == 0 {
		args = []string{""}
	}
	want, ok := positional[args[0]]
	fs := flag.NewFlagSet("srs "+args[0], flag.ContinueOnError)
	fs.SetOutput(errw)
	configPath := fs.String("config", "", configFlagHelp)
	pos, err := cliflags.Parse(fs, args[1:])
	if !ok || err != nil || len(pos) != want {
		fmt.Fprintln(errw, srsUsage)
		return 2
	}
	cfg, _, err := loadConfig(*configPath)
	if err == nil {
		err = srskeys.Run(cfg, args[0], append(pos, "")[0], out)
	}
	if err != nil {
		fmt.Fprintf(errw, "postern srs %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
