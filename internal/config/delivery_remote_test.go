package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// decodeRemote decodes a [delivery] table into a struct that embeds
// DeliveryRemote the way Delivery does, and validates it.
func decodeRemote(t *testing.T, text string) (DeliveryRemote, *decoder) {
	t.Helper()
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		t.Fatal(err)
	}
	var holder struct {
		Delivery struct {
			Mailbox string `toml:"mailbox"`
			DeliveryRemote
		} `toml:"delivery"`
	}
	holder.Delivery.DeliveryRemote = DefaultDeliveryRemote()
	d := &decoder{file: "t.toml", pos: scanPositions(text), defined: map[string]bool{}}
	d.decodeStruct("", raw, reflect.ValueOf(&holder).Elem())
	d.deliveryRemote(&holder.Delivery.DeliveryRemote, "/etc/postern")
	return holder.Delivery.DeliveryRemote, d
}

func TestDeliveryRemoteKeys(t *testing.T) {
	r, d := decodeRemote(t, `[delivery]
mailbox = "/var/mail/{user}/"
smarthost = "[127.0.0.1]:2526"
smarthost_auth_file = "relay-auth"
remote_port = 2525
tls_policy = "Required"
tls_ca_file = "ca.pem"
dane = "Off"
destination_concurrency = 5
connect_timeout = "10s"
connection_reuse = 50
connection_idle = "5s"

[[delivery.tls_destination]]
destination = "Partner.Example"
policy = "verify"

[[delivery.tls_destination]]
destination = ".broken.example"
policy = "never"
`)
	if len(d.problems) > 0 {
		t.Fatalf("problems: %v", d.problems)
	}
	want := DeliveryRemote{
		Smarthost: "[127.0.0.1]:2526", SmarthostAuthFile: "/etc/postern/relay-auth", RemotePort: 2525,
		TLSPolicy: "required", TLSCAFile: "/etc/postern/ca.pem", DANE: "off", DestinationConcurrency: 5, DestinationRecipientLimit: 50,
		ConnectTimeout: 10 * time.Second, ConnectionReuse: 50, ConnectionIdle: 5 * time.Second,
		TLSDestinations: []TLSDestination{{Destination: "partner.example", Policy: "verify"}, {Destination: ".broken.example", Policy: "never"}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
}

func TestDeliveryRemoteErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"smarthost = \"[x\"", "missing ']'"},
		{"smarthost = \"host:\"", "missing port"},
		{"smarthost = \"[h]:99999\"", "port"},
		{"smarthost = \"bad host\"", "delivery.smarthost"},
		{"smarthost_auth_file = \"x\"", "smarthost is not"},
		{"remote_port = 0", "remote_port"},
		{"tls_policy = \"sometimes\"", "tls_policy"},
		{"dane = \"maybe\"", "delivery.dane"},
		{"destination_concurrency = 0", "destination_concurrency"},
		{"connection_reuse = 0", "connection_reuse"},
		{"smarthos = \"x\"", "did you mean smarthost"},
		{"[[delivery.tls_destination]]\ndestination = \"a.example\"\npolicy = \"no\"", "policy"},
		{"[[delivery.tls_destination]]\ndestination = \"a..example\"\npolicy = \"may\"", "destination"},
		{"[[delivery.tls_destination]]\ndestination = \"a.example\"\npolicy = \"may\"\n[[delivery.tls_destination]]\ndestination = \"A.example\"\npolicy = \"never\"", "twice"},
	} {
		_, d := decodeRemote(t, "[delivery]\n"+c.text+"\n")
		var msgs []string
		for _, p := range d.problems {
			msgs = append(msgs, p.Msg)
			if p.Line == 0 {
				t.Errorf("%q: problem without a line: %s", c.text, p.Msg)
			}
		}
		if !strings.Contains(strings.Join(msgs, "; "), c.want) {
			t.Errorf("%q: problems %q, want one with %q", c.text, msgs, c.want)
		}
	}
}

func TestReadSmarthostAuth(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth")
	os.WriteFile(p, []byte("# relay credentials\n\nrelayuser s3cr3t\n"), 0o600)
	u, pw, err := ReadSmarthostAuth(p)
	if err != nil || u != "relayuser" || pw != "s3cr3t" {
		t.Errorf("got %q %q %v", u, pw, err)
	}
	for _, bad := range []string{"", "# only\n", "one-field\n", "a b c\n"} {
		os.WriteFile(p, []byte(bad), 0o600)
		if _, _, err := ReadSmarthostAuth(p); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzCheckSmarthost(f *testing.F) {
	for _, s := range []string{"[127.0.0.1]:2526", "relay.example", "relay.example:587", "[IPv6:::1]", "[x", "h:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := checkSmarthost(s); err == nil && strings.ContainsAny(s, " \r\n\x00") {
			t.Fatalf("%q accepted", s)
		}
	})
}

func FuzzParseSmarthostAuth(f *testing.F) {
	f.Add("user pass\n")
	f.Add("# c\n\n user\tpass \r\n")
	f.Add("a b c")
	f.Fuzz(func(t *testing.T, s string) {
		u, p, err := parseSmarthostAuth("f", s)
		if err == nil && (u == "" || p == "" || strings.ContainsAny(u+p, " \t\r\n")) {
			t.Fatalf("%q -> %q %q", s, u, p)
		}
	})
}
