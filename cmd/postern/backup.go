package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"postern/internal/backup"
	"postern/internal/cliflags"
)

const backupUsage = `usage: postern backup [-config FILE] ARCHIVE

Writes one tar.gz (mode 0600: it holds private keys) with the
configuration file, the maps, the users file, the DKIM keys
(data_dir/dkim), the certificates (data_dir/tls and [tls] cert and key)
and a MANIFEST of them all with sizes, modes and SHA-256 sums. The queue
is not included. Restore with postern restore.`

const restoreUsage = `usage: postern restore [-config FILE] [-force] ARCHIVE

Puts back what postern backup saved: the configuration file at -config
(default: where it was when backed up), then the maps, users, DKIM keys
and certificates where that configuration says they go. Nothing is
written when a file already exists, unless -force; nothing is written
either when the archive does not match its manifest.`

func runBackup(args []string) int  { return backupCmd(args, os.Stdout, os.Stderr) }
func runRestore(args []string) int { return restoreCmd(args, os.Stdout, os.Stderr) }

func backupCmd(args []string, out, errw io.Writer) int {
	fs := cliflags.New("backup", backupUsage, errw)
	configPath := fs.String("config", "", configFlagHelp)
	pos, code, done := cliflags.ParseN(fs, args, 1, 1)
	if done {
		return code
	}
	cfg, _, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	files, err := backup.Write(pos[0], cfg, time.Now())
	if err != nil {
		fmt.Fprintf(errw, "postern backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(out, "%s: %d files backed up (config, maps, users, DKIM keys, certificates; not the queue)\n", pos[0], files)
	if cfg.File == "" {
		fmt.Fprintln(out, "note: no -config given: the embedded default configuration is not a file and was not saved")
	}
	return 0
}

func restoreCmd(args []string, out, errw io.Writer) int {
	fs := cliflags.New("restore", restoreUsage, errw)
	configPath := fs.String("config", "", "where the configuration file goes (default: where it was backed up from)")
	force := fs.Bool("force", false, "overwrite files that exist")
	pos, code, done := cliflags.ParseN(fs, args, 1, 1)
	if done {
		return code
	}
	a, err := backup.Open(pos[0])
	if err != nil {
		fmt.Fprintf(errw, "postern restore: %v\n", err)
		return 1
	}
	restored, err := backup.Restore(a, backup.ConfigDest(a, *configPath), *force)
	for _, p := range restored {
		fmt.Fprintf(out, "restored %s\n", p)
	}
	if err != nil {
		fmt.Fprintf(errw, "postern restore: %v\n", err)
		return 1
	}
	fmt.Fprintf(out, "%d paths restored from the backup of %s taken %s; restart postern (or send it SIGHUP) to use them\n",
		len(restored), a.Manifest.Host, a.Manifest.Created.Format(time.RFC3339))
	return 0
}
