package mtasts

import (
	"errors"
	"fmt"
	"strings"
)

// Record is a parsed _mta-sts TXT record (RFC 8461 3.1).
type Record struct {
	// ID names the policy instance: senders fetch the policy again when
	// it changes.
	ID string
}

// ErrNoID is the error of a record without a valid id= field.
var ErrNoID = errors.New("no valid id= (1 to 32 letters and digits)")

// RecordName is the DNS name of domain's MTA-STS TXT record.
func RecordName(domain string) string { return "_mta-sts." + domain }

// ParseRecord parses an MTA-STS TXT record strictly (RFC 8461 3.1):
// "v=STSv1" first, then fields separated by ";" (blanks around each
// skipped), an optional ";" at the end. The id= field (1 to 32 letters and
// digits) is required and the first one counts; other fields are
// extensions, name=value, checked and ignored. Senders treat a record
// that does not parse as no record. An id problem wraps ErrNoID.
func ParseRecord(txt string) (*Record, error) {
	fields := strings.Split(txt, ";")
	// RFC 8461 3.1: sts-version = %s"v=STSv1", at the very start.
	if v := strings.TrimRight(fields[0], " \t"); v != "v=STSv1" {
		return nil, fmt.Errorf("the record starts with %q, not \"v=STSv1;\"", clip(v))
	}
	fields = fields[1:]
	// RFC 8461 3.1: [sts-field-delim] at the end.
	if n := len(fields); n > 0 && strings.Trim(fields[n-1], " \t") == "" {
		fields = fields[:n-1]
	}
	rec := &Record{}
	for _, f := range fields {
		if err := rec.parseField(strings.Trim(f, " \t")); err != nil {
			return nil, err
		}
	}
	if rec.ID == "" {
		return nil, ErrNoID
	}
	return rec, nil
}

// parseField takes one name=value field of the record into rec.
func (rec *Record) parseField(f string) error {
	name, val, ok := strings.Cut(f, "=")
	switch {
	case f == "":
		return errors.New("empty field between \";\"")
	case !ok:
		return fmt.Errorf("field %q is not name=value", clip(f))
	case name == "id" && rec.ID == "":
		// RFC 8461 3.1: sts-id = %s"id=" 1*32(ALPHA / DIGIT).
		if val == "" || len(val) > 32 || !allAlnum(val) {
			return fmt.Errorf("%w: id=%q", ErrNoID, clip(val))
		}
		rec.ID = val
		return nil
	case !isFieldName(name):
		return fmt.Errorf("bad field name %q", clip(name))
	}
	// RFC 8461 3.1: sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E), that is
	// printable ASCII but "=", ";" and space.
	for i := 0; i < len(val); i++ {
		if c := val[i]; c <= 0x20 || c >= 0x7f || c == '=' {
			return fmt.Errorf("field %s: character %q not allowed in a value", name, c)
		}
	}
	if val == "" {
		return fmt.Errorf("field %s has no value", name)
	}
	return nil
}

func allAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}
