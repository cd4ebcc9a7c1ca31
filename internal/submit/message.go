package submit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Options say how Prepare completes a message.
type Options struct {
	// ExtractRcpts takes the recipients from To, Cc and Bcc (sendmail -t),
	// or from Resent-To, Resent-Cc and Resent-Bcc when the message has any
	// (a resent message, RFC 5322 3.6.6).
	ExtractRcpts bool
	// From is the address of a From field added when the message has
	// none, FullName its display name ("" for none).
	From     string
	FullName string
	// Hostname completes bare recipient names ("root" is root@Hostname)
	// and names the host in an added Message-ID.
	Hostname string
	// Now dates an added Date field; the zero time means time.Now.
	Now time.Time
}

// Prepared is a message ready for submission.
type Prepared struct {
	// Message is the header with Bcc and Resent-Bcc removed and any
	// missing From, Date and Message-ID added, then the body unchanged.
	// Line ends are as read (LF or CR LF); the SMTP client canonicalises
	// them.
	Message []byte
	// Rcpts are the recipients found in the header (ExtractRcpts only),
	// without duplicates, in order.
	Rcpts []string
	// Added names the fields that were added.
	Added []string
}

// field is one header field as read: its name and every line of it,
// with their line ends.
type field struct {
	name string
	raw  []byte
}

// value is the unfolded field body.
func (f field) value() string {
	_, v, _ := bytes.Cut(f.raw, []byte{':'})
	s := strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(string(v))
	return strings.TrimSpace(s)
}

// splitHeader splits a message into its header fields and the body (what
// follows the empty line, or the first line that is not a header field).
// sep reports whether an empty line separated them. An initial Unix
// "From " line (an mbox postmark) is dropped, as Postfix's sendmail does.
func splitHeader(msg []byte) (fields []field, body []byte, sep bool) {
	rest := msg
	if bytes.HasPrefix(rest, []byte("From ")) {
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			rest = rest[i+1:]
		} else {
			rest = nil
		}
	}
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		switch {
		case len(trimmed) == 0:
			return fields, rest[len(line):], true
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			fields[len(fields)-1].raw = append(fields[len(fields)-1].raw, line...)
		default:
			name, ok := fieldName(trimmed)
			if !ok {
				return fields, rest, false
			}
			fields = append(fields, field{name: name, raw: append([]byte(nil), line...)})
		}
		rest = rest[len(line):]
	}
	return fields, nil, false
}

// fieldName returns the name of a header line "Name: value".
func fieldName(line []byte) (string, bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", false
	}
	for _, c := range line[:i] {
		// RFC 5322 2.2: printable US-ASCII except colon, no space.
		if c < 33 || c > 126 {
			return "", false
		}
	}
	return string(line[:i]), true
}

// Prepare completes a message read from a local program, as sendmail
// and Postfix's cleanup do for local submissions.
func Prepare(msg []byte, opt Options) (*Prepared, error) {
	fields, body, _ := splitHeader(msg)
	has := map[string]bool{}
	resent := false
	for _, f := range fields {
		n := strings.ToLower(f.name)
		has[n] = true
		if n == "resent-to" || n == "resent-cc" || n == "resent-bcc" {
			resent = true
		}
	}
	p := &Prepared{}
	if opt.ExtractRcpts {
		want := map[string]bool{"to": true, "cc": true, "bcc": true}
		if resent {
			want = map[string]bool{"resent-to": true, "resent-cc": true, "resent-bcc": true}
		}
		seen := map[string]bool{}
		for _, f := range fields {
			if !want[strings.ToLower(f.name)] {
				continue
			}
			addrs, err := ParseAddressList(f.value(), opt.Hostname)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			for _, a := range addrs {
				if k := strings.ToLower(a); !seen[k] {
					seen[k] = true
					p.Rcpts = append(p.Rcpts, a)
				}
			}
		}
	}
	nl := "\n"
	if bytes.HasSuffix(firstLine(msg), []byte("\r\n")) {
		nl = "\r\n"
	}
	var out bytes.Buffer
	out.Grow(len(msg) + 256)
	for _, f := range fields {
		switch strings.ToLower(f.name) {
		case "bcc", "resent-bcc":
			// Blind copies stay blind: the field goes, its addresses
			// stay in the envelope.
			continue
		}
		out.Write(f.raw)
		if !bytes.HasSuffix(f.raw, []byte("\n")) {
			out.WriteString(nl)
		}
	}
	add := func(name, value string) {
		out.WriteString(name + ": " + value + nl)
		p.Added = append(p.Added, name)
	}
	// RFC 5322 3.6: Date and From are required; Message-ID should be
	// there (3.6.4).
	if !has["from"] && opt.From != "" {
		a := mail.Address{Name: opt.FullName, Address: opt.From}
		add("From", a.String())
	}
	if !has["date"] {
		now := opt.Now
		if now.IsZero() {
			now = time.Now()
		}
		add("Date", now.Format(time.RFC1123Z))
	}
	if !has["message-id"] {
		add("Message-ID", newMessageID(opt.Hostname, opt.Now))
	}
	// The empty line, also when the input had none (a body line came
	// first, or no body at all).
	out.WriteString(nl)
	out.Write(body)
	p.Message = out.Bytes()
	return p, nil
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1]
	}
	return b
}

// newMessageID makes a unique id: time, random bits and the host
// (RFC 5322 3.6.4: "id-left@id-right").
func newMessageID(host string, now time.Time) string {
	if now.IsZero() {
		now = time.Now()
	}
	var r [8]byte
	rand.Read(r[:])
	if host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("<%s.%s@%s>", now.UTC().Format("20060102150405"), hex.EncodeToString(r[:]), host)
}
