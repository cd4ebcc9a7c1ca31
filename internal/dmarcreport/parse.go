package dmarcreport

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxReportBytes bounds an uncompressed report (and the expansion of a
// compressed one).
const MaxReportBytes = 64 << 20

// ParseFeedback parses an aggregate report's XML. It is lenient where
// real reporters are sloppy: any namespace (RFC 7489 0.1, RFC 9990 2.0 or
// none), float timestamps, latin-1/windows-1252 encodings, unknown
// elements, and a malformed record, which is skipped and listed in
// Problems while the rest of the report is kept.
func ParseFeedback(data []byte) (*Feedback, error) {
	if len(data) > MaxReportBytes {
		return nil, fmt.Errorf("report larger than %d bytes", MaxReportBytes)
	}
	data, err := toUTF8(data)
	if err != nil {
		return nil, err
	}
	p := &feedbackParser{f: &Feedback{}, data: data, d: newDecoder(data)}
	if err := p.root(); err != nil {
		return nil, err
	}
	for {
		startOff := p.base + int(p.d.InputOffset())
		tok, err := p.d.Token()
		if err == io.EOF {
			p.f.Problems = append(p.f.Problems, "report ends without </feedback>")
			break
		}
		if err != nil {
			return nil, fmt.Errorf("aggregate report: %w", err)
		}
		if _, ok := tok.(xml.EndElement); ok {
			break // </feedback>: a child's end is consumed by DecodeElement
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if done, err := p.child(se, startOff); err != nil {
			return nil, err
		} else if done {
			break
		}
	}
	return p.f, p.f.check(p.sawMeta, p.sawPolicy)
}

// feedbackParser is the state of ParseFeedback.
type feedbackParser struct {
	f                  *Feedback
	data               []byte // the whole report, in UTF-8
	d                  *xml.Decoder
	base               int // offset of d's input within data
	sawMeta, sawPolicy bool
	nrec               int // records seen, parsed or not
}

// root finds the root element, which must be <feedback>.
func (p *feedbackParser) root() error {
	for {
		tok, err := p.d.Token()
		if err != nil {
			return fmt.Errorf("not an aggregate report: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "feedback" {
				return fmt.Errorf("not an aggregate report: root element <%s>", se.Name.Local)
			}
			p.f.XMLName = se.Name
			return nil
		}
	}
}

// child reads one child element of <feedback>, whose start tag began at
// startOff in p.data. done is true when the report ends with it (a broken
// record without an end tag).
func (p *feedbackParser) child(se xml.StartElement, startOff int) (done bool, err error) {
	f, d := p.f, p.d
	switch se.Name.Local {
	case "version":
		err = d.DecodeElement(&f.Version, &se)
		f.Version = strings.TrimSpace(f.Version)
	case "report_metadata":
		err = d.DecodeElement(&f.Metadata, &se)
		p.sawMeta = true
	case "policy_published":
		err = d.DecodeElement(&f.Policy, &se)
		p.sawPolicy = true
	case "record":
		return !p.record(&se, startOff), nil
	default:
		err = d.Skip()
	}
	if err != nil {
		return false, fmt.Errorf("aggregate report <%s>: %w", se.Name.Local, err)
	}
	return false, nil
}

// record reads one <record>. A malformed record is skipped and listed in
// Problems, and reading goes on after its end tag; ok is false when it
// has none, the report being truncated there.
func (p *feedbackParser) record(se *xml.StartElement, startOff int) (ok bool) {
	var r Record
	p.nrec++
	if rerr := p.d.DecodeElement(&r, se); rerr != nil {
		p.f.Problems = append(p.f.Problems, fmt.Sprintf("record %d skipped: %v", p.nrec, rerr))
		// Resynchronise after this record's end tag.
		next := recordEnd.FindIndex(p.data[startOff:])
		if next == nil {
			p.f.Problems = append(p.f.Problems, "report truncated after a broken record")
			return false
		}
		p.base = startOff + next[1]
		p.d = newDecoder(p.data[p.base:])
		return true
	}
	normalizeRecord(&r)
	if _, perr := netip.ParseAddr(r.Row.SourceIP); perr != nil {
		p.f.Problems = append(p.f.Problems, fmt.Sprintf("record %d: source_ip %q is not an IP address", p.nrec, r.Row.SourceIP))
	}
	p.f.Records = append(p.f.Records, r)
	return true
}

var recordEnd = regexp.MustCompile(`</([A-Za-z_][-\w.]*:)?record\s*>`)

func (f *Feedback) check(sawMeta, sawPolicy bool) error {
	if !sawMeta {
		return errors.New("aggregate report without report_metadata")
	}
	if !sawPolicy || f.Policy.Domain == "" {
		return errors.New("aggregate report without policy_published domain")
	}
	f.Metadata.OrgName = strings.TrimSpace(f.Metadata.OrgName)
	f.Metadata.ReportID = strings.TrimSpace(f.Metadata.ReportID)
	f.Policy.Domain = strings.ToLower(strings.TrimSpace(f.Policy.Domain))
	f.Policy.P = strings.ToLower(strings.TrimSpace(f.Policy.P))
	f.Policy.SP = strings.ToLower(strings.TrimSpace(f.Policy.SP))
	return nil
}

func normalizeRecord(r *Record) {
	lt := func(s *string) { *s = strings.ToLower(strings.TrimSpace(*s)) }
	r.Row.SourceIP = strings.TrimSpace(r.Row.SourceIP)
	lt(&r.Row.PolicyEvaluated.Disposition)
	lt(&r.Row.PolicyEvaluated.DKIM)
	lt(&r.Row.PolicyEvaluated.SPF)
	lt(&r.Identifiers.HeaderFrom)
	lt(&r.Identifiers.EnvelopeFrom)
	lt(&r.Identifiers.EnvelopeTo)
	for i := range r.AuthResults.DKIM {
		lt(&r.AuthResults.DKIM[i].Domain)
		lt(&r.AuthResults.DKIM[i].Result)
	}
	for i := range r.AuthResults.SPF {
		lt(&r.AuthResults.SPF[i].Domain)
		lt(&r.AuthResults.SPF[i].Result)
	}
}

func newDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(data))
	// toUTF8 already converted the input; the declaration may still name
	// the original charset.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	return d
}

var xmlDeclEncoding = regexp.MustCompile(`^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']`)

// toUTF8 converts the document to UTF-8 according to its declaration.
// UTF-8 (with or without BOM), US-ASCII, ISO-8859-1 and windows-1252 are
// understood.
func toUTF8(data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	head := data
	if len(head) > 200 {
		head = head[:200]
	}
	enc := "utf-8"
	if m := xmlDeclEncoding.FindSubmatch(head); m != nil {
		enc = strings.ToLower(string(m[1]))
	}
	switch enc {
	case "utf-8", "utf8", "us-ascii", "ascii":
		if !utf8.Valid(data) {
			return nil, errors.New("report is not valid UTF-8")
		}
		return data, nil
	case "iso-8859-1", "latin1", "latin-1", "iso8859-1", "windows-1252", "cp1252":
		var b strings.Builder
		b.Grow(len(data))
		for _, c := range data {
			if c >= 0x80 && c < 0xa0 && strings.HasSuffix(enc, "1252") {
				b.WriteRune(cp1252[c-0x80])
				continue
			}
			b.WriteRune(rune(c))
		}
		return []byte(b.String()), nil
	}
	return nil, fmt.Errorf("report encoding %q is not supported", enc)
}

// cp1252 maps windows-1252 bytes 0x80-0x9f (the rest is ISO-8859-1).
var cp1252 = [32]rune{
	'€', '\ufffd', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\ufffd', 'Ž', '\ufffd',
	'\ufffd', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\ufffd', 'ž', 'Ÿ',
}
