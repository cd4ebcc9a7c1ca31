package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
	pos, err := parseFlags(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 1 {
		fs.Usage()
		return 2
	}
	dir := "/etc/mail"
	if len(pos) == 1 {
		dir = pos[0]
	}
	if *hostname == "" {
		*hostname, _ = os.Hostname()
	}
	if *aliases == "" {
		if _, err := os.Stat(filepath.Join(dir, "aliases")); err != nil && dir == "/etc/mail" {
			*aliases = "/etc/aliases"
		}
	}
	outAbs, err := filepath.Abs(*out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern import-sendmail: %v\n", err)
		return 2
	}
	if *mapsDir == "" {
		*mapsDir = filepath.Join(outAbs, "maps")
	}
	im, err := sendmailcf.Import(sendmailcf.ImportOptions{Dir: dir, AliasesFile: *aliases, Hostname: *hostname, DataDir: *dataDir, MapsDir: *mapsDir, User: *user})
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern import-sendmail: %v\n", err)
		return 2
	}
	files := map[string]string{
		filepath.Join(outAbs, "postern.toml"):     im.Config,
		filepath.Join(outAbs, "IMPORT-NOTES.txt"): importNotesText(dir, im),
	}
	for name, content := range im.Maps {
		files[filepath.Join(*mapsDir, name)] = content
	}
	if !*force {
		for p := range files {
			if _, err := os.Stat(p); err == nil {
				fmt.Fprintf(os.Stderr, "postern import-sendmail: %s exists; use -force to overwrite\n", p)
				return 2
			}
		}
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		// Config and maps must not be writable by group or others:
		// postern refuses to start otherwise.
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "postern import-sendmail: %v\n", err)
			return 2
		}
		if err := os.WriteFile(p, []byte(files[p]), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "postern import-sendmail: %v\n", err)
			return 2
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Config     string            `json:"config"`
			Files      []string          `json:"files"`
			Changed    []sendmailcf.Note `json:"changed"`
			NotCarried []sendmailcf.Note `json:"not_carried"`
		}{filepath.Join(outAbs, "postern.toml"), names, nonNil(im.Changed), nonNil(im.NotCarried)})
		return 0
	}
	fmt.Print(importNotesText(dir, im))
	fmt.Printf("\nWrote:\n  %s\n", strings.Join(names, "\n  "))
	fmt.Printf("Check it with: postern check -config %s\n", filepath.Join(outAbs, "postern.toml"))
	return 0
}

func nonNil(n []sendmailcf.Note) []sendmailcf.Note {
	if n == nil {
		return []sendmailcf.Note{}
	}
	return n
}

func importNotesText(dir string, im *sendmailcf.Imported) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Import of the sendmail setup in %s\n\n", dir)
	fmt.Fprintf(&b, "Carried over with a change of meaning (%d):\n", len(im.Changed))
	for _, n := range im.Changed {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	fmt.Fprintf(&b, "\nNot carried over, needs your decision (%d):\n", len(im.NotCarried))
	for _, n := range im.NotCarried {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	return b.String()
}
