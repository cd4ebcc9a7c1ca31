package dane

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// Usage is a TLSA certificate usage field (RFC 6698 2.1.1; the names
// are those of RFC 7218).
type Usage uint8

// The certificate usages. SMTP uses only DANE-TA and DANE-EE (RFC 7672
// 3.1.3).
const (
	PKIXTA Usage = 0 // a CA of the public PKI, the chain also PKIX-valid
	PKIXEE Usage = 1 // the server's certificate, also PKIX-valid
	DANETA Usage = 2 // a trust anchor of the domain's own
	DANEEE Usage = 3 // the server's certificate or key, nothing else checked
)

// Selector is the TLSA selector field: which part of a certificate the
// record matches (RFC 6698 2.1.2).
type Selector uint8

// The selectors.
const (
	SelectorCert Selector = 0 // the whole certificate (DER)
	SelectorSPKI Selector = 1 // its SubjectPublicKeyInfo (DER)
)

// MatchingType is the TLSA matching type field: how the selected bytes
// are compared with the record's data (RFC 6698 2.1.3).
type MatchingType uint8

// The matching types.
const (
	MatchFull   MatchingType = 0 // the bytes themselves
	MatchSHA256 MatchingType = 1 // their SHA2-256 digest
	MatchSHA512 MatchingType = 2 // their SHA2-512 digest
)

// Record is one TLSA record.
type Record struct {
	Usage        Usage
	Selector     Selector
	MatchingType MatchingType
	Data         []byte // the certificate association data
}

// ErrUnusable is wrapped by the errors of Record.Check.
var ErrUnusable = errors.New("TLSA record unusable for SMTP")

func (u Usage) String() string {
	names := [...]string{"PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE"}
	return fieldName(names[:], int(u))
}

func (s Selector) String() string {
	names := [...]string{"Cert", "SPKI"}
	return fieldName(names[:], int(s))
}

func (m MatchingType) String() string {
	names := [...]string{"Full", "SHA2-256", "SHA2-512"}
	return fieldName(names[:], int(m))
}

// fieldName is "DANE-EE(3)" for a known value, "(7)" for another.
func fieldName(names []string, v int) string {
	n := ""
	if v < len(names) {
		n = names[v]
	}
	return n + "(" + strconv.Itoa(v) + ")"
}

// Parse reads the RDATA of a TLSA record (RFC 6698 2.1): the usage,
// selector and matching type octets, then the association data. It
// fails only when the RDATA is shorter than the three octets; whether
// the record can be used is Check's business.
func Parse(rdata []byte) (Record, error) {
	if len(rdata) < 3 {
		return Record{}, fmt.Errorf("TLSA record of %d octets: want at least 3", len(rdata))
	}
	return Record{
		Usage:        Usage(rdata[0]),
		Selector:     Selector(rdata[1]),
		MatchingType: MatchingType(rdata[2]),
		Data:         append([]byte(nil), rdata[3:]...),
	}, nil
}

// String gives r in the zone file form ("3 1 1 9f86d0..."), long data
// cut after 32 octets with its length added, for logs.
func (r Record) String() string {
	s := strconv.Itoa(int(r.Usage)) + " " + strconv.Itoa(int(r.Selector)) + " " + strconv.Itoa(int(r.MatchingType)) + " "
	if len(r.Data) > 32 {
		return s + hex.EncodeToString(r.Data[:32]) + "... (" + strconv.Itoa(len(r.Data)) + " octets)"
	}
	return s + hex.EncodeToString(r.Data)
}

// Check says whether r can be used to authenticate an SMTP server: nil
// if so, else an error wrapping ErrUnusable that says why. Usable are
// the usages DANE-TA(2) and DANE-EE(3) (RFC 7672 3.1.3: PKIX-TA(0) and
// PKIX-EE(1) are not for SMTP), the selectors Cert(0) and SPKI(1), and
// the matching types Full(0), SHA2-256(1) and SHA2-512(2) (RFC 6698;
// RFC 7671 4: values not known are unusable). A digest must have its
// length, full data must be a certificate (Cert) or a public key (SPKI)
// in DER.
func (r Record) Check() error {
	switch {
	case r.Usage == PKIXTA || r.Usage == PKIXEE:
		return r.unusable("usage %v is not for SMTP (RFC 7672 3.1.3)", r.Usage)
	case r.Usage > DANEEE:
		return r.unusable("unknown usage %d", r.Usage)
	case r.Selector > SelectorSPKI:
		return r.unusable("unknown selector %d", r.Selector)
	}
	switch r.MatchingType {
	case MatchSHA256, MatchSHA512:
		if want := digestLen(r.MatchingType); len(r.Data) != want {
			return r.unusable("%v digest of %d octets, want %d", r.MatchingType, len(r.Data), want)
		}
	case MatchFull:
		if err := checkFull(r.Selector, r.Data); err != nil {
			return r.unusable("%v data: %v", r.MatchingType, err)
		}
	default:
		return r.unusable("unknown matching type %d", r.MatchingType)
	}
	return nil
}

func (r Record) unusable(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrUnusable, r, fmt.Sprintf(format, args...))
}

// digestLen is the length of the digest of a matching type.
func digestLen(m MatchingType) int {
	if m == MatchSHA512 {
		return 64
	}
	return 32
}

// checkFull checks that full association data has the form of what the
// selector selects.
func checkFull(s Selector, data []byte) error {
	if s == SelectorCert {
		if _, err := x509.ParseCertificate(data); err != nil {
			return fmt.Errorf("not a certificate: %v", err)
		}
		return nil
	}
	// RFC 5280 4.1.2.7: SEQUENCE { AlgorithmIdentifier, BIT STRING }.
	// Only the form is checked: the key may be of a kind this program
	// does not know, and a DANE-EE record matches it byte for byte.
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(data, &spki)
	if err != nil || len(rest) > 0 {
		return errors.New("not a SubjectPublicKeyInfo")
	}
	return nil
}

// ParseSet reads the RDATA of a TLSA RRset into its usable records, and
// says why each other one is unusable (RFC 7671 4: unusable records are
// ignored as if absent).
func ParseSet(rdata [][]byte) (usable []Record, unusable []string) {
	for _, b := range rdata {
		r, err := Parse(b)
		if err == nil {
			err = r.Check()
		}
		if err != nil {
			unusable = append(unusable, err.Error())
			continue
		}
		usable = append(usable, r)
	}
	return usable, unusable
}
