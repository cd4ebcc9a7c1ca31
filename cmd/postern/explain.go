package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"

	"postern/internal/config"
	"postern/internal/inbound"
	"postern/internal/maps"
	"postern/internal/policy"
	"postern/internal/smtp"
	"postern/internal/smtpd"
	"postern/internal/submit"
	"postern/internal/users"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runExplain(args []string) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	cfgPath := fs.String("config", "", configFlagHelp)
	client := fs.String("client", "", "the client's IP address (required)")
	auth := fs.String("auth", "", "the user the client authenticated as, if any")
	clientName := fs.String("client-name", "", "the client's verified host name, if any (for access-map Connect: entries)")
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
	if cv := relay.Connect(ip, *clientName); cv.Reply != nil {
		fmt.Printf("CONNECT: %s\n  rule: %s\n", replyText(cv.Reply), cv.Rule)
		return 1
	} else if cv.Rule != "" {
		fmt.Printf("CONNECT: 220 accepted\n  rule: %s\n", cv.Rule)
	}
	fromPath, ok := explainMail(relay, newLoginCheck(cfg, mapSet, relay, nil), *auth, *from)
	if !ok {
		return 1
	}
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
		d := relay.Decide(policy.Query{Client: ip, ClientName: *clientName, AuthUser: *auth, From: fromPath, HasFrom: true, To: to})
		if d.Accepted() {
			fmt.Printf("RCPT TO:%s: 250 2.1.5 OK (%s, delivered to %s)\n  rule: %s\n", arg, d.Class, d.Mailbox, d.Rule)
			explainAliases(cfg, mapSet, relay, d.Mailbox)
			if fv := relay.RcptFate(to); fv.Rule != "" {
				fmt.Printf("  message: %s\n", fv.Rule)
			}
		} else {
			fmt.Printf("RCPT TO:%s: %s\n  rule: %s\n", arg, replyText(d.Reply), d.Rule)
			status = 1
		}
	}
	return status
}

// explainMail prints the answer to MAIL FROM: the address's syntax, the
// access map's From: entries, and whether the login may use it.
func explainMail(relay *policy.Relay, lc *submit.LoginCheck, auth, from string) (smtp.Path, bool) {
	fromPath, _, rep := smtp.ParseMail("FROM:<"+from+">", smtp.ParseOptions{})
	if rep != nil {
		fmt.Printf("MAIL FROM:<%s>: %s\n  rule: the address does not parse (%v)\n", from, replyText(rep), rep.Err)
		return fromPath, false
	}
	mv := relay.Mail(fromPath)
	if mv.Reply != nil {
		fmt.Printf("MAIL FROM:<%s>: %s\n  rule: %s\n", from, replyText(mv.Reply), mv.Rule)
		return fromPath, false
	}
	if auth != "" {
		t := &inbound.Txn{Conn: &inbound.Conn{AuthUser: auth, Mode: smtpd.ModeSubmission}, From: fromPath}
		if v := lc.CheckMail(context.Background(), t); v != nil && v.Reply != nil {
			fmt.Printf("MAIL FROM:<%s>: %s\n  rule: %s\n", from, replyText(v.Reply), v.Rule)
			return fromPath, false
		}
	}
	fmt.Printf("MAIL FROM:<%s>: 250 2.1.0 OK\n", from)
	if mv.Rule != "" {
		fmt.Printf("  rule: %s\n", mv.Rule)
	} else {
		fmt.Printf("  rule: no access-map From: entry; the relay decision does not depend on the sender (except From:... RELAY with allow_sender_relay = true)\n")
	}
	if auth != "" {
		fmt.Printf("  sender_login: %s\n", senderLoginRule(lc, auth, fromPath))
	}
	return fromPath, true
}

// senderLoginRule says why the login may use the sender.
func senderLoginRule(lc *submit.LoginCheck, auth string, from smtp.Path) string {
	if !lc.Envelope {
		return "not checked ([sender_login] envelope = \"off\")"
	}
	if from.IsNull() {
		return "the null sender has no owner; any login may use it"
	}
	_, rule := lc.Owns(auth, from.String())
	return rule
}

func replyText(r *smtp.Reply) string {
	return strings.TrimRight(string(r.Format(true)), "\r\n")
}

// explainAliases prints what delivery does with a local address that is
// an alias: its expansion, as the delivery would make it now.
func explainAliases(cfg *config.Config, set *maps.Set, relay *policy.Relay, addr string) {
	at := strings.LastIndexByte(addr, '@')
	if set == nil || at <= 0 || !relay.IsLocal(addr[at+1:]) {
		return
	}
	local := strings.ToLower(addr[:at])
	al := set.Maps().Aliases
	if _, ok := al.Lookup(local); !ok {
		if user, _, plus := strings.Cut(local, "+"); plus {
			local = user
		}
		if _, ok := al.Lookup(local); !ok {
			return
		}
	}
	r := cfg.Delivery.DeliveryRoute
	x := al.Expand(local, maps.ExpandOptions{AllowFiles: r.AllowAliasFiles, AllowCommands: r.AllowAliasCommands, IsLocal: relay.IsLocal})
	fmt.Printf("  delivery: alias %s expands to:\n", local)
	for _, t := range x.Targets {
		if t.Kind == maps.TargetError {
			fmt.Printf("    error: %v\n", t.Err)
			continue
		}
		fmt.Printf("    %s %s (%s)\n", t.Kind, t.Value, t.Source.Human())
	}
}
