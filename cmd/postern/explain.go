package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"

	"postern/internal/smtp"
	"postern/internal/users"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runExplain(args []string) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	client := fs.String("client", "", "the client's IP address (required)")
	auth := fs.String("auth", "", "the user the client authenticated as, if any")
	from := fs.String("from", "", "the MAIL FROM address (\"\" for the null sender)")
	var rcpts stringList
	fs.Var(&rcpts, "rcpt", "a RCPT TO address (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern explain -client IP [-auth USER] [-from ADDR] -rcpt ADDR [-rcpt ADDR...] [-config FILE]")
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return 2
	}
	rcpts = append(rcpts, pos...)
	ip, err := netip.ParseAddr(*client)
	if err != nil || len(rcpts) == 0 {
		fs.Usage()
		return 2
	}
	cfg, _, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	store, err := users.Open(cfg.UsersFile())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mapSet, err := openMaps(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, "maps:", err)
	}
	relay := buildRelay(cfg, mapSet, store, configuredAddrs(cfg))
	who := "not authenticated"
	if *auth != "" {
		who = "authenticated as " + *auth
	}
	fmt.Printf("client %s (%s)\n", ip, who)
	_, _, rep := smtp.ParseMail("FROM:<"+*from+">", smtp.ParseOptions{})
	if rep != nil {
		fmt.Printf("MAIL FROM:<%s>: %s\n  rule: the address does not parse (%v)\n", *from, replyText(rep), rep.Err)
		return 1
	}
	fmt.Printf("MAIL FROM:<%s>: 250 2.1.0 OK\n  rule: the relay decision never depends on the sender\n", *from)
	status := 0
	for _, r := range rcpts {
		arg := r
		if !strings.HasPrefix(arg, "<") {
			arg = "<" + arg + ">"
		}
		to, _, rep := smtp.ParseRcpt("TO:"+arg, smtp.ParseOptions{SMTPUTF8: true})
		if rep != nil {
			fmt.Printf("RCPT TO:%s: %s\n  rule: the address does not parse (%v)\n", arg, replyText(rep), rep.Err)
			status = 1
			continue
		}
		d := relay.Rcpt(ip, *auth, to)
		if d.Accepted() {
			fmt.Printf("RCPT TO:%s: 250 2.1.5 OK (%s, delivered to %s)\n  rule: %s\n", arg, d.Class, d.Mailbox, d.Rule)
		} else {
			fmt.Printf("RCPT TO:%s: %s\n  rule: %s\n", arg, replyText(d.Reply), d.Rule)
			status = 1
		}
	}
	return status
}

func replyText(r *smtp.Reply) string {
	return strings.TrimRight(string(r.Format(true)), "\r\n")
}
