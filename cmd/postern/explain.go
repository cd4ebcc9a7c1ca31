package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"postern/internal/cliflags"
	"postern/internal/explain"
	"postern/internal/policy"
	"postern/internal/server"
	"postern/internal/sharedmaps"
	"postern/internal/srskeys"
	"postern/internal/users"
)

func runExplain(args []string) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	cfgPath := fs.String("config", "", configFlagHelp)
	client := fs.String("client", "", "the client's IP address (required)")
	auth := fs.String("auth", "", "the user the client authenticated as, if any")
	clientName := fs.String("client-name", "", "the client's verified host name, if any (for access-map Connect: entries)")
	from := fs.String("from", "", "the MAIL FROM address (\"\" for the null sender)")
	certIssuer := fs.String("cert-issuer", "", "the issuer of the client's verified certificate, as sendmail writes it (/C=US/O=Example/CN=Example CA)")
	certSubject := fs.String("cert-subject", "", "the subject of the client's verified certificate")
	var rcpts cliflags.StringList
	fs.Var(&rcpts, "rcpt", "a RCPT TO address (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: postern explain -client IP [-auth USER] [-from ADDR] -rcpt ADDR [-rcpt ADDR...] [-config FILE]")
		fs.PrintDefaults()
	}
	pos, err := cliflags.Parse(fs, args)
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
	store, err := sharedmaps.OpenUsers(cfg, users.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mapSet, err := openMaps(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, "maps:", err)
	}
	relay := buildRelay(cfg, mapSet, store, server.ConfiguredAddrs(listenerAddrs(cfg)), nil)
	tlsLines, err := explainTLS(cfg, mapSet)
	if err != nil {
		fmt.Fprintln(os.Stderr, "outbound TLS:", err)
		return 1
	}
	r := cfg.Delivery.DeliveryRoute
	e := &explain.Explainer{
		ForwardSender: srskeys.Explain(cfg, relay, os.Stderr),
		TLS:           tlsLines,
		Relay:         relay,
		Login:         newLoginCheck(cfg, mapSet, relay, nil),
		Maps:          mapsFunc(mapSet),
		AllowFiles:    r.AllowAliasFiles,
		AllowCommands: r.AllowAliasCommands,
		Out:           os.Stdout,
	}
	return e.Explain(context.Background(), explain.Query{Client: ip, ClientName: *clientName, Auth: *auth, From: *from, Rcpts: rcpts,
		TLS: policy.ClientTLS{On: *certIssuer != "", Issuer: *certIssuer, Subject: *certSubject}})
}
