package tlsrpt

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
)

// Record is a parsed _smtp._tls TXT record (RFC 8460 3).
type Record struct {
	// RUA are the report destinations, in the order published.
	RUA []URI
}

// URI is one rua destination: a mailbox or an HTTPS URL.
type URI struct {
	Raw     string // as published
	Mailbox string // the address of a mailto: URI; "" for https
	URL     string // an https: URI; "" for mailto
}

// ErrNotTLSRPT is the error of a TXT string that is not a TLSRPT record
// at all (it does not start with v=TLSRPTv1): senders discard it.
var ErrNotTLSRPT = errors.New(`not a TLSRPT record (no "v=TLSRPTv1" first)`)

// RecordName is the DNS name of domain's TLSRPT record.
func RecordName(domain string) string { return "_smtp._tls." + domain }

// version is tlsrpt-version, case-sensitive (RFC 8460 3: %s"v=TLSRPTv1").
const version = "v=TLSRPTv1"

// ParseRecord parses a TLSRPT record strictly, as RFC 8460 3 defines it:
// v=TLSRPTv1 first, then fields separated by ";" with blanks around it,
// a ";" at the end allowed; rua= once, a comma-separated list of mailto:
// and https: URIs; other fields are extensions, name=value, checked and
// ignored. A string that does not start with v=TLSRPTv1 wraps
// ErrNotTLSRPT.
func ParseRecord(txt string) (*Record, error) {
	head, rest, _ := strings.Cut(txt, ";")
	if strings.TrimRight(head, " \t") != version {
		return nil, fmt.Errorf("%w: %q", ErrNotTLSRPT, clip(head))
	}
	rec := &Record{}
	seen := false
	for n := 1; ; n++ {
		var field string
		var more bool
		field, rest, more = strings.Cut(rest, ";")
		field = strings.Trim(field, " \t")
		if field == "" && !more {
			break // the end, after an optional final ";"
		}
		isRUA, err := rec.takeField(field)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", n, err)
		}
		if isRUA && seen {
			return nil, errors.New("rua given twice")
		}
		seen = seen || isRUA
		if !more {
			break
		}
	}
	if !seen {
		return nil, errors.New("no rua= field")
	}
	return rec, nil
}

// takeField checks one name=value field and keeps it when it is rua=;
// it reports whether it was.
func (rec *Record) takeField(field string) (bool, error) {
	name, val, ok := strings.Cut(field, "=")
	if field == "" {
		return false, errors.New(`empty field between ";"`)
	}
	if !ok || val == "" {
		return false, fmt.Errorf("%q is not name=value", clip(field))
	}
	if name == "rua" {
		uris, err := parseRUA(val)
		rec.RUA = uris
		return true, err
	}
	if !extName(name) {
		return false, fmt.Errorf("bad field name %q", clip(name))
	}
	// RFC 8460 3: tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E).
	for _, c := range []byte(val) {
		if c < 0x21 || c > 0x7e || c == '=' {
			return false, fmt.Errorf("%s: character %q not allowed", name, c)
		}
	}
	return false, nil
}

// extName is tlsrpt-ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" /
// "-" / ".").
func extName(s string) bool {
	if s == "" || len(s) > 32 || !alnum(s[0]) {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == ""
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// parseRUA reads tlsrpt-rua's value: URIs separated by "," with blanks
// around it.
func parseRUA(val string) ([]URI, error) {
	var out []URI
	for _, raw := range strings.Split(val, ",") {
		u, err := parseURI(strings.Trim(raw, " \t"))
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// uriChars are the characters a URI may hold (RFC 3986 2: unreserved,
// reserved and "%"), but "," and "!", which RFC 8460 3 says must be
// percent-encoded in a rua.
const uriChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@$&'()*+;=%"

// parseURI checks one rua URI: mailto: with a single address, or https:
// with a host and no user name.
func parseURI(raw string) (URI, error) {
	if raw == "" {
		return URI{}, errors.New("empty rua URI")
	}
	if strings.Trim(raw, uriChars) != "" {
		return URI{}, fmt.Errorf("rua %q: characters not allowed in a URI (\",\" and \"!\" must be %%-encoded)", clip(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return URI{}, fmt.Errorf("rua %q: %v", clip(raw), err)
	}
	switch strings.ToLower(u.Scheme) {
	case "mailto":
		addr, err := mailtoAddress(u)
		if err != nil {
			return URI{}, fmt.Errorf("rua %q: %w", clip(raw), err)
		}
		return URI{Raw: raw, Mailbox: addr}, nil
	case "https":
		if u.Host == "" || u.Hostname() == "" || u.User != nil || u.Opaque != "" {
			return URI{}, fmt.Errorf("rua %q: want https://host/path", clip(raw))
		}
		return URI{Raw: raw, URL: raw}, nil
	}
	return URI{}, fmt.Errorf("rua %q: only mailto: and https: are supported", clip(raw))
}

// mailtoAddress is the one address of a mailto: URI (RFC 6068), without
// its header fields.
func mailtoAddress(u *url.URL) (string, error) {
	to, err := url.PathUnescape(u.Opaque)
	if err != nil || u.Opaque == "" {
		return "", errors.New("mailto: without an address")
	}
	a, err := mail.ParseAddress(to)
	if err != nil || a.Address != to || a.Name != "" || strings.Count(to, "@") != 1 {
		return "", fmt.Errorf("mailto: %q is not one address (local@domain)", clip(to))
	}
	return to, nil
}

// clip shortens what goes into an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
