package envelope

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncodeRoundTrip(t *testing.T) {
	full := &Envelope{
		ID:         NewID(time.Unix(1763686800, 0)),
		From:       "alice@example.org",
		Rcpts:      []Recipient{{Addr: "bob@example.test", ORCPT: "rfc822;Bob@example.test", Notify: "SUCCESS,FAILURE"}, {Addr: `"odd\"quoted local"@example.test`}},
		Received:   time.Unix(1763686800, 123456789),
		ClientIP:   netip.MustParseAddr("2001:db8::1"),
		ClientName: "mail.example.org",
		Helo:       "mail.example.org\r\nINJECT",
		AuthUser:   "alice",
		TLS:        "TLSv1.3 TLS_AES_128_GCM_SHA256",
		Listener:   "submission",
		SMTPUTF8:   true,
		Body:       "8BITMIME",
		DSNRet:     "HDRS",
		EnvID:      "QQ314159\x00\xff",
		Size:       5120,
	}
	tests := []struct {
		name string
		env  *Envelope
	}{
		{"full", full},
		{"null sender, no recipients", &Envelope{ID: "X"}},
		{"ipv4 client", &Envelope{ID: "Y", From: "a@b", ClientIP: netip.MustParseAddr("127.0.0.1"), Rcpts: []Recipient{{Addr: "c@d"}}}},
		{"utf8", &Envelope{ID: "Z", From: "jörg@bücher.example", Rcpts: []Recipient{{Addr: "用户@例子.广告"}}, SMTPUTF8: true}},
		{"hold and folder", &Envelope{ID: "H", From: "a@b.example", Rcpts: []Recipient{{Addr: "c@d.example"}}, Hold: true, Folder: "Junk"}},
		{"requiretls", &Envelope{ID: "R", From: "a@b.example", Rcpts: []Recipient{{Addr: "c@d.example"}}, RequireTLS: true}},
		{"tlsoptional", &Envelope{ID: "O", From: "a@b.example", Rcpts: []Recipient{{Addr: "c@d.example"}}, TLSOptional: true}},
		{"forwarded", &Envelope{ID: "F", From: "a@b.example", Rcpts: []Recipient{{Addr: "c@d.example"}, {Addr: "e@f.example", Notify: "NEVER", Forwarded: true}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.env.Encode()
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%q): %v", b, err)
			}
			want := *tc.env
			if !want.Received.IsZero() {
				want.Received = time.Unix(0, want.Received.UnixNano())
			}
			if !got.Received.Equal(want.Received) {
				t.Errorf("Received = %v, want %v", got.Received, want.Received)
			}
			got.Received, want.Received = time.Time{}, time.Time{}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", *got, want)
			}
			if strings.Contains(string(b), "\r") {
				t.Errorf("encoding holds a raw CR: %q", b)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	ok := "postern-envelope 1\nid \"A\"\nfrom \"\"\n.\n"
	if _, err := Decode([]byte(ok)); err != nil {
		t.Fatalf("minimal envelope: %v", err)
	}
	bad := []struct{ name, in string }{
		{"empty", ""},
		{"wrong header", "postern-envelope 2\nid \"A\"\nfrom \"\"\n.\n"},
		{"no end", "postern-envelope 1\nid \"A\"\nfrom \"\"\n"},
		{"no final newline", "postern-envelope 1\nid \"A\"\nfrom \"\"\n."},
		{"data after end", ok + "x"},
		{"no id", "postern-envelope 1\nfrom \"\"\n.\n"},
		{"no from", "postern-envelope 1\nid \"A\"\n.\n"},
		{"unknown field", "postern-envelope 1\nid \"A\"\nfrom \"\"\ncolour \"red\"\n.\n"},
		{"repeated field", "postern-envelope 1\nid \"A\"\nid \"B\"\nfrom \"\"\n.\n"},
		{"unquoted", "postern-envelope 1\nid A\nfrom \"\"\n.\n"},
		{"backquoted", "postern-envelope 1\nid `A`\nfrom \"\"\n.\n"},
		{"trailing junk", "postern-envelope 1\nid \"A\" x\nfrom \"\"\n.\n"},
		{"bad escape", "postern-envelope 1\nid \"\\q\"\nfrom \"\"\n.\n"},
		{"rcpt too few values", "postern-envelope 1\nid \"A\"\nfrom \"\"\nrcpt \"a@b\" \"\"\n.\n"},
		{"rcpt forwarded twice", "postern-envelope 1\nid \"A\"\nfrom \"\"\nrcpt \"a@b\" \"\" \"\" forwarded forwarded\n.\n"},
		{"rcpt other flag", "postern-envelope 1\nid \"A\"\nfrom \"\"\nrcpt \"a@b\" \"\" \"\" relayed\n.\n"},
		{"rcpt two spaces", "postern-envelope 1\nid \"A\"\nfrom \"\"\nrcpt \"a@b\"  \"\" \"\"\n.\n"},
		{"bad time", "postern-envelope 1\nid \"A\"\nfrom \"\"\nreceived 12x\n.\n"},
		{"negative size", "postern-envelope 1\nid \"A\"\nfrom \"\"\nsize -1\n.\n"},
		{"bad ip", "postern-envelope 1\nid \"A\"\nfrom \"\"\nclient-ip \"300.1.1.1\"\n.\n"},
		{"bad smtputf8", "postern-envelope 1\nid \"A\"\nfrom \"\"\nsmtputf8 yes\n.\n"},
		{"bad requiretls", "postern-envelope 1\nid \"A\"\nfrom \"\"\nrequiretls 0\n.\n"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if e, err := Decode([]byte(tc.in)); err == nil {
				t.Errorf("Decode(%q) = %+v, want an error", tc.in, e)
			}
		})
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte("postern-envelope 1\nid \"A\"\nfrom \"\"\n.\n"))
	f.Add((&Envelope{ID: "B", From: "a@b", Rcpts: []Recipient{{Addr: "c@d", Notify: "NEVER"}}, ClientIP: netip.MustParseAddr("::1"), Size: 9}).Encode())
	f.Add([]byte("postern-envelope 1\nrcpt \"\\xff\" \"\" \"\"\n.\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		// What decodes must encode and decode again to the same thing.
		e2, err := Decode(e.Encode())
		if err != nil {
			t.Fatalf("re-decode of %q: %v", e.Encode(), err)
		}
		if !reflect.DeepEqual(e.Rcpts, e2.Rcpts) || e.ID != e2.ID || e.From != e2.From || e.Size != e2.Size || !e.Received.Equal(e2.Received) {
			t.Fatalf("round trip changed %+v into %+v", e, e2)
		}
	})
}
