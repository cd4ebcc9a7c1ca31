package layout

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"postern/internal/config"
	"postern/internal/sandbox"
)

// systemReadDirs are what the running server reads outside its own
// files: /etc (resolv.conf, hosts, passwd and group for local users, TLS
// roots), the CA certificates /etc/ssl links to, time zones, and the
// shared libraries a cgo build loads for user lookups.
func systemReadDirs() []string {
	return []string{"/etc", "/usr/share/ca-certificates", "/usr/local/share/ca-certificates", "/usr/share/zoneinfo", "/usr/lib", "/lib64"}
}

// SandboxPaths lists what the server needs once it runs, from the
// configuration; why is set when the configuration lets mail go to
// places that cannot be known beforehand.
func SandboxPaths(cfg *config.Config) (p sandbox.Paths, why string) {
	r := cfg.Delivery.DeliveryRoute
	switch {
	case r.AllowAliasCommands:
		return p, "[delivery] allow_alias_commands lets aliases run programs, which may need any file"
	case r.AllowAliasFiles:
		return p, "[delivery] allow_alias_files lets aliases write to any file"
	}
	abs := func(path string) string {
		if a, err := filepath.Abs(path); err == nil {
			return a
		}
		return path
	}
	p.ReadDirs = append(p.ReadDirs, systemReadDirs()...)
	if cfg.MapsDir != "" {
		p.ReadDirs = append(p.ReadDirs, abs(cfg.MapsDir))
	}
	for _, f := range []string{cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.ClientCAFile, cfg.Delivery.SmarthostAuthFile, cfg.Delivery.TLSCAFile} {
		if f != "" {
			p.ReadFiles = append(p.ReadFiles, abs(f))
		}
	}
	for _, f := range r.ForwardPath {
		// .forward files: the fixed part of the path, or every home.
		dir := fixedDir(f, "$")
		if dir == "" {
			dir = "/home"
		}
		p.ReadDirs = append(p.ReadDirs, dir)
	}
	p.ReadDirs = append(p.ReadDirs, cfg.Sandbox.Read...)
	p.WriteDirs = append(p.WriteDirs, abs(cfg.DataDir))
	mbox := fixedDir(abs(cfg.Delivery.Mailbox), "{")
	if mbox == "" {
		return p, fmt.Sprintf("[delivery] mailbox %q has no fixed directory to allow", cfg.Delivery.Mailbox)
	}
	p.WriteDirs = append(p.WriteDirs, mbox)
	if cfg.Local.Socket != "" {
		p.WriteDirs = append(p.WriteDirs, filepath.Dir(abs(cfg.Local.Socket)))
	}
	p.WriteDirs = append(p.WriteDirs, cfg.Sandbox.Write...)
	p.WriteFiles = []string{os.DevNull}
	return p, ""
}

// fixedDir is the directory part of path before the first mark ("{" of
// a template, "$" of a variable); "" when that is the root.
func fixedDir(path, mark string) string {
	if i := strings.Index(path, mark); i >= 0 {
		path = filepath.Dir(path[:i] + "x")
	} else if !strings.HasSuffix(path, "/") {
		path = filepath.Dir(path)
	}
	path = filepath.Clean(path)
	if path == "/" || path == "." {
		return ""
	}
	return path
}
