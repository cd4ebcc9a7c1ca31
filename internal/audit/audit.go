package audit

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// target is what the checks share about the server under audit.
type target struct {
	opt      *Options
	log      *slog.Logger
	d        dialer
	host     string // as given
	ip       net.IP
	port     int
	banner   string // text of the 220 greeting
	bannerHN string // host name the banner announces
	domain   string // local mail domain used by the probes
	helo     string // our EHLO argument
}

// Run audits the server in opt.Target and returns the report. An error
// means the audit could not start at all (bad or forbidden target, or
// nothing listening); everything else is a finding in the report.
func Run(ctx context.Context, log *slog.Logger, opt Options) (*Report, error) {
	log = logger(log)
	if opt.Timeout == 0 {
		opt.Timeout = 20 * time.Second
	}
	if opt.RelayTestDomain == "" {
		opt.RelayTestDomain = defaultRelayTestDomain
	}
	addr, host, port, err := resolveTarget(ctx, &opt)
	if err != nil {
		return nil, err
	}
	ipStr, _, _ := net.SplitHostPort(addr)
	t := &target{
		opt: &opt, log: log, host: host, ip: net.ParseIP(ipStr), port: port,
		d: dialer{addr: addr, local: opt.From, timeout: opt.Timeout},
	}
	rep := &Report{Schema: SchemaVersion, Target: addr, Domain: opt.Domain, Started: time.Now().UTC()}

	var tr []string
	c, greet, err := t.d.dial(ctx, port, &tr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	c.close()
	t.banner = greet.Text
	if f := strings.Fields(strings.Split(greet.Text, "\n")[0]); len(f) > 0 {
		t.bannerHN = strings.TrimSuffix(strings.ToLower(f[0]), ".")
	}
	t.domain = strings.ToLower(opt.Domain)
	if t.domain == "" {
		t.domain = parentDomain(t.bannerHN)
	}
	log.InfoContext(ctx, "audit started", "target", addr, "banner", t.bannerHN, "domain", t.domain)

	for _, step := range []func(context.Context, *Report){
		t.checkBanner,
		t.checkSession,
		t.checkRelay,
		func(ctx context.Context, r *Report) { t.checkTLS(ctx, r, t.port, "mta") },
		func(ctx context.Context, r *Report) {
			if opt.SubmissionPort > 0 {
				t.checkTLS(ctx, r, opt.SubmissionPort, "submission")
			}
		},
		t.checkSmuggling,
		t.checkDNS,
	} {
		if ctx.Err() != nil {
			break
		}
		step(ctx, rep)
	}
	rep.Duration = time.Since(rep.Started).Round(time.Millisecond).String()
	rep.summarize()
	log.InfoContext(ctx, "audit done", "target", addr, "pass", rep.Summary.Pass, "warn", rep.Summary.Warn, "fail", rep.Summary.Fail)
	return rep, nil
}

// parentDomain returns the mail domain a host name most likely serves:
// the name without its first label when it has at least three labels
// (mx.example.org -> example.org), else the name itself.
func parentDomain(h string) string {
	if strings.Count(h, ".") >= 2 {
		return h[strings.IndexByte(h, '.')+1:]
	}
	return h
}

// heloName is our EHLO argument: an address literal of our own side of
// the connection, always syntactically valid (RFC 5321 4.1.3).
func heloName(c *client) string {
	ip := c.localIP()
	if ip == nil {
		return "[127.0.0.1]"
	}
	if ip.To4() == nil {
		return "[IPv6:" + ip.String() + "]"
	}
	return "[" + ip.String() + "]"
}

// session opens a connection and says EHLO, for checks that need it.
func (t *target) session(ctx context.Context, port int, tr *[]string) (*client, error) {
	c, greet, err := t.d.dial(ctx, port, tr)
	if err != nil {
		return nil, err
	}
	if greet.Code != 220 {
		c.quit()
		return nil, fmt.Errorf("greeting %d %s", greet.Code, greet.Text)
	}
	if _, err := c.ehlo(heloName(c)); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}
