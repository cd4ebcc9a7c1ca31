package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"postern/internal/cliflags"
	"postern/internal/sendmailcf"
)

// runImportSendmail is "postern import-sendmail [/etc/mail] -out DIR": it
// writes DIR/postern.toml, the converted maps in the maps directory and
// DIR/IMPORT-NOTES.txt listing every entry whose meaning changed and
// everything that could not be carried over.
func runImportSendmail(args []string) int {
	fs := flag.NewFlagSet("import-sendmail", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern import-sendmail [/etc/mail] [-out DIR] [-maps-dir DIR] [-data-dir DIR] [-hostname NAME]")
		fs.PrintDefaults()
	}
	fs.String("config", "", "accepted like every command; the import writes a new config instead (see -out)")
	out := fs.String("out", "postern-import", "directory to write postern.toml, IMPORT-NOTES.txt and (by default) maps/ into")
	mapsDir := fs.String("maps-dir", "", "maps_dir to write the maps into and name in the config (default OUT/maps)")
	dataDir := fs.String("data-dir", "/var/lib/postern", "data_dir to name in the config")
	aliases := fs.String("aliases", "", "aliases file (default: DIR/aliases, else /etc/aliases)")
	hostname := fs.String("hostname", "", "host name when sendmail.mc does not set confDOMAIN_NAME (default: this machine's)")
	user := fs.String("user", "", "user postern drops to when started as root (written as user = ...)")
	force := fs.Bool("force", false, "overwrite files already in the output directory")
	jsonOut := fs.Bool("json", false, "print the notes as JSON instead of text")
	pos, err := cliflags.Parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 1 {
		fs.Usage()
		return 2
	}
	opt := sendmailcf.ImportOptions{Dir: sendmailcf.DefaultDir, AliasesFile: *aliases, Hostname: *hostname, DataDir: *dataDir, MapsDir: *mapsDir, User: *user}
	if len(pos) == 1 {
		opt.Dir = pos[0]
	}
	if opt.Hostname == "" {
		opt.Hostname, _ = os.Hostname()
	}
	if opt.AliasesFile == "" {
		opt.AliasesFile = sendmailcf.SystemAliases(opt.Dir)
	}
	outAbs, err := filepath.Abs(*out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern import-sendmail: %v\n", err)
		return 2
	}
	if opt.MapsDir == "" {
		opt.MapsDir = filepath.Join(outAbs, "maps")
	}
	return importSendmail(opt, outAbs, *force, *jsonOut)
}

// importSendmail converts, writes and reports.
func importSendmail(opt sendmailcf.ImportOptions, outDir string, force, jsonOut bool) int {
	im, err := sendmailcf.Import(opt)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern import-sendmail: %v\n", err)
		return 2
	}
	names, err := sendmailcf.WriteOutput(im.OutputFiles(opt.Dir, outDir, opt.MapsDir), force)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern import-sendmail: %v\n", err)
		return 2
	}
	cfgFile := filepath.Join(outDir, "postern.toml")
	if jsonOut {
		im.WriteJSON(os.Stdout, cfgFile, names)
		return 0
	}
	fmt.Print(im.NotesText(opt.Dir))
	fmt.Printf("\nWrote:\n  %s\n", strings.Join(names, "\n  "))
	fmt.Printf("Check it with: postern check -config %s\n", cfgFile)
	return 0
}
