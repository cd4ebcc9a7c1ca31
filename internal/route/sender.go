package route

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"postern/internal/inbound"
	"postern/internal/maps"
)

// SenderRewriter rewrites the senders of mail leaving the host from our
// own users: the genericstable first (sendmail's FEATURE(genericstable)
// for the domains of class G), then, when no entry matched, masquerading
// (MASQUERADE_AS). The null sender is never rewritten.
type SenderRewriter struct {
	// Maps returns the maps in force (the genericstable); nil: none.
	Maps     func() *maps.Maps
	Generics maps.GenericsOptions
	// Masquerade is the masquerading; its As qualifies unqualified
	// genericstable values (the host name when As is empty).
	Masquerade maps.Masquerade
	Hostname   string
	// LocalNames, when set, gives names added at each lookup to
	// Masquerade.Domains, and to Generics.Domains when GenericsLocal is
	// set (local-host-names, which may be reloaded).
	LocalNames    func() []string
	GenericsLocal bool
}

func (s *SenderRewriter) options() (maps.GenericsOptions, maps.Masquerade) {
	g, m := s.Generics, s.Masquerade
	if s.LocalNames == nil {
		return g, m
	}
	extra := s.LocalNames()
	if len(extra) == 0 {
		return g, m
	}
	m.Domains = append(append([]string(nil), m.Domains...), extra...)
	if s.GenericsLocal {
		g.Domains = append(append([]string(nil), g.Domains...), extra...)
	}
	return g, m
}

// Rewrite returns the new form of a sender address and the rule that
// changed it; changed is false when the address stays as it is.
func (s *SenderRewriter) Rewrite(addr string) (out, rule string, changed bool) {
	if strings.TrimSpace(addr) == "" || addr == "<>" {
		return addr, "", false
	}
	gen, masq := s.options()
	if s.Maps != nil {
		if m := s.Maps(); m != nil {
			if g, ok := m.Genericstable.Lookup(addr, gen); ok {
				out = g.Address
				if !g.Qualified {
					dom := masq.As
					if dom == "" {
						dom = s.Hostname
					}
					out += "@" + dom
				}
				if !strings.EqualFold(out, addr) {
					return out, g.Rule(), true
				}
				return addr, "", false
			}
		}
	}
	if out, ok := masq.Rewrite(addr); ok {
		return out, "masquerade_as " + masq.As, true
	}
	return addr, "", false
}

// SenderChecker is the DATA stage that applies a SenderRewriter to the
// envelope sender and to the addresses of the From: and Sender: header
// fields, for mail from authenticated or trusted clients (mail leaving
// the host from local users). It must run before DKIM signing.
type SenderChecker struct {
	Rewriter *SenderRewriter
	// Applies says whether a transaction's sender is ours to rewrite;
	// nil means authenticated clients only.
	Applies func(t *inbound.Txn) bool
}

// maxHeaderBytes bounds the header section rewritten.
const maxHeaderBytes = 256 << 10

// CheckData implements inbound.DataChecker.
func (c *SenderChecker) CheckData(_ context.Context, t *inbound.Txn, m *inbound.Message) *inbound.Verdict {
	applies := t.Conn.AuthUser != ""
	if c.Applies != nil {
		applies = c.Applies(t)
	}
	if !applies {
		return nil
	}
	var rules []string
	if out, rule, ok := c.Rewriter.Rewrite(t.Env.From); ok {
		rules = append(rules, fmt.Sprintf("envelope sender %s -> %s (%s)", t.Env.From, out, rule))
		t.Env.From = out
	}
	content, hr, err := rewriteHeaders(m, c.Rewriter)
	if err == nil && content != nil {
		if err := m.Replace(content); err == nil {
			rules = append(rules, hr...)
		}
	}
	if len(rules) == 0 {
		return nil
	}
	return &inbound.Verdict{Rule: strings.Join(rules, "; ")}
}

// rewriteHeaders returns a reader of the message with its From: and
// Sender: addresses rewritten, or nil when nothing changed. Only the
// addr-spec changes; display names, comments and folding stay as they
// were. The reader reads the body from m.
func rewriteHeaders(m *inbound.Message, rw *SenderRewriter) (io.Reader, []string, error) {
	head := make([]byte, min(m.Size(), maxHeaderBytes))
	n, err := m.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, nil, err
	}
	head = head[:n]
	end := bytes.Index(head, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, nil, nil // no complete header section in reach: leave it
	}
	fields := splitFields(head[:end+2])
	var rules []string
	changed := false
	for i, f := range fields {
		name, value, ok := strings.Cut(f, ":")
		if !ok || !(strings.EqualFold(strings.TrimSpace(name), "From") || strings.EqualFold(strings.TrimSpace(name), "Sender")) {
			continue
		}
		list, err := mail.ParseAddressList(unfold(value))
		if err != nil {
			continue
		}
		nv := value
		for _, a := range list {
			out, rule, ok := rw.Rewrite(a.Address)
			if !ok {
				continue
			}
			if j := indexFold(nv, a.Address); j >= 0 {
				nv = nv[:j] + out + nv[j+len(a.Address):]
				rules = append(rules, fmt.Sprintf("%s: %s -> %s (%s)", strings.TrimSpace(name), a.Address, out, rule))
			}
		}
		if nv != value {
			fields[i] = name + ":" + nv
			changed = true
		}
	}
	if !changed {
		return nil, nil, nil
	}
	rest := io.NewSectionReader(m, int64(end+2), m.Size()-int64(end+2))
	return io.MultiReader(strings.NewReader(strings.Join(fields, "")), rest), rules, nil
}

// splitFields splits a header section (ending in CRLF) into its fields,
// each with its continuation lines and line ends.
func splitFields(h []byte) []string {
	var out []string
	for len(h) > 0 {
		i := bytes.Index(h, []byte("\r\n"))
		if i < 0 {
			i = len(h) - 2
		}
		line := string(h[:i+2])
		h = h[i+2:]
		if len(out) > 0 && (line[0] == ' ' || line[0] == '\t') {
			out[len(out)-1] += line
			continue
		}
		out = append(out, line)
	}
	return out
}

func unfold(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n ", " ", "\r\n\t", " ", "\r\n", "").Replace(s))
}

// indexFold finds sub in s, ignoring ASCII case.
func indexFold(s, sub string) int {
	return strings.Index(strings.ToLower(s), strings.ToLower(sub))
}
