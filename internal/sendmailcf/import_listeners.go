package sendmailcf

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// importListeners turns DAEMON_OPTIONS into listeners, adding sendmail's
// defaults (MTA on 25 and MSA on 587, on every address) where it would.
func importListeners(cfg *Config, im *Imported) []listener {
	var out []listener
	for _, d := range daemonsWithDefaults(cfg) {
		if l, ok := daemonListener(cfg, d, im); ok {
			out = append(out, l)
		}
	}
	return out
}

// daemonsWithDefaults returns the daemons sendmail runs: those of
// DAEMON_OPTIONS, an MTA when there are none, and for a .mc an MSA unless
// there is one or FEATURE(`no_default_msa') is given.
func daemonsWithDefaults(cfg *Config) []Daemon {
	daemons := cfg.Daemons
	_, noMSA := cfg.Features["no_default_msa"]
	if len(daemons) == 0 {
		daemons = append(daemons, Daemon{Raw: "default MTA", Opts: map[string]string{"Port": "smtp", "Name": "MTA"}})
	}
	if !noMSA && cfg.Kind == "mc" {
		hasMSA := false
		for _, d := range daemons {
			hasMSA = hasMSA || isMSA(d)
		}
		if !hasMSA {
			daemons = append(daemons, Daemon{Raw: "default MSA (no FEATURE(`no_default_msa'))", Opts: map[string]string{"Port": "submission", "Name": "MSA", "M": "E"}})
		}
	}
	return daemons
}

// daemonListener turns one daemon into a listener; ok is false, and the
// reason noted, when it has no postern equivalent.
func daemonListener(cfg *Config, d Daemon, im *Imported) (l listener, ok bool) {
	port := daemonPort(d.Opts["Port"])
	if _, err := strconv.Atoi(port); err != nil {
		im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: d.Line, Text: "DAEMON_OPTIONS " + d.Raw + ": unknown port " + port})
		return listener{}, false
	}
	addr := d.Opts["Addr"]
	fam := strings.ToLower(d.Opts["Family"])
	switch {
	case fam == "local" || fam == "unix":
		im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: d.Line, Text: "DAEMON_OPTIONS " + d.Raw + ": unix-socket daemons have no postern equivalent"})
		return listener{}, false
	case addr == "" && fam == "inet6":
		addr = "::"
	case addr == "" || addr == "INADDR_ANY":
		addr = "0.0.0.0"
	}
	for k, v := range d.Opts {
		// sendmail tells daemon options by their first letter; I is
		// InputMailFilters, the milters of this daemon alone.
		if k != "" && (k[0] == 'I' || k[0] == 'i') {
			im.NotCarried = append(im.NotCarried, Note{File: cfg.File, Line: d.Line,
				Text: "DAEMON_OPTIONS " + d.Raw + ": " + k + "=" + v + " (the milters of this daemon alone) is not carried over; set listeners = [...] on those [[milter]] tables by hand"})
		}
	}
	mods := d.Opts["M"]
	mode := "mta"
	switch {
	case strings.Contains(mods, "s") || port == "465":
		mode = "smtps"
	case port == "587" || isMSA(d):
		mode = "submission"
	}
	src := "from " + d.Raw
	if d.Line > 0 {
		src = fmt.Sprintf("from %s line %d: %s", cfg.File, d.Line, d.Raw)
	}
	if mode == "submission" && strings.Contains(mods, "a") {
		src += " (AUTH required: postern's submission mode always requires it)"
	} else if mode == "submission" {
		im.Changed = append(im.Changed, Note{File: cfg.File, Line: d.Line,
			Text: "submission daemon " + d.Raw + " did not require AUTH (no M=a); postern's submission mode always requires STARTTLS then AUTH"})
	}
	return listener{address: net.JoinHostPort(addr, port), mode: mode, line: d.Line, source: src}, true
}

// daemonPort turns sendmail's port names into numbers; other values are
// returned as they are.
func daemonPort(port string) string {
	switch strings.ToLower(port) {
	case "", "smtp":
		return "25"
	case "submission":
		return "587"
	case "smtps", "submissions":
		return "465"
	}
	return port
}
