package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Problem is one error in the configuration.
type Problem struct {
	File string // config file, or EmbeddedName
	Line int    // 1-based; 0 when the problem has no single line
	Msg  string
}

func (p Problem) String() string { return position(p.File, p.Line) + p.Msg }

func position(file string, line int) string {
	if file == "" {
		file = EmbeddedName
	}
	if line > 0 {
		return fmt.Sprintf("%s:%d: ", file, line)
	}
	return file + ": "
}

// Warning is a legal but dangerous setting.
type Warning struct {
	File string
	Line int // 0 when the warning has no single line
	Msg  string
}

func (w Warning) String() string { return position(w.File, w.Line) + "warning: " + w.Msg }

// Error lists every problem found in one load, in file order.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// maxFileSize bounds what Load reads; a configuration is a few KiB.
const maxFileSize = 1 << 20

// Load reads, completes and validates the configuration in path; an
// empty path means the embedded default (see Default). On error the
// *Error lists every problem at once, each with its file and line; the
// warnings are returned in both cases.
func Load(path string) (*Config, []Warning, error) {
	if path == "" {
		return loadDefault()
	}
	fail := func(msg string) (*Config, []Warning, error) {
		return nil, nil, &Error{Problems: []Problem{{File: path, Msg: msg}}}
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fail(fmt.Sprintf("cannot read: %v", err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return fail(fmt.Sprintf("cannot read: %v", err))
	}
	if len(data) > maxFileSize {
		return fail(fmt.Sprintf("larger than %d bytes; is this the right file?", maxFileSize))
	}
	return parse(path, string(data))
}

func parse(path, text string) (*Config, []Warning, error) {
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, nil, &Error{Problems: []Problem{{File: path, Line: pe.Position.Line, Msg: pe.Message}}}
		}
		return nil, nil, &Error{Problems: []Problem{{File: path, Msg: err.Error()}}}
	}
	d := &decoder{file: path, pos: scanPositions(text), defined: map[string]bool{}}
	c := fileDefaults()
	c.File = path
	d.decodeStruct("", raw, reflect.ValueOf(c).Elem())
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		base = filepath.Dir(path)
	}
	if !d.defined["maps_dir"] {
		c.MapsDir = base
	}
	d.complete(c, base)
	return d.result(c)
}

func loadDefault() (*Config, []Warning, error) {
	c := Default()
	d := &decoder{file: EmbeddedName, pos: positions{}, defined: map[string]bool{}}
	base, err := os.Getwd()
	if err != nil {
		base = "."
	}
	// The embedded mailbox names the data dir itself, relative to the
	// working directory, not to the data dir.
	c.Delivery.Mailbox = filepath.Join(base, c.Delivery.Mailbox) + "/"
	d.complete(c, base)
	return d.result(c)
}

func (d *decoder) result(c *Config) (*Config, []Warning, error) {
	sort.SliceStable(d.warnings, func(i, j int) bool { return d.warnings[i].Line < d.warnings[j].Line })
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
		return nil, d.warnings, &Error{Problems: d.problems}
	}
	return c, d.warnings, nil
}

// fileDefaults are the values a configuration file starts from: a
// production host, unlike the embedded laptop default.
func fileDefaults() *Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Config{
		Hostname:        host,
		DataDir:         "/var/lib/postern",
		TrustedNetworks: loopbackNetworks(),
		DNS:             DNS{Timeout: DefaultDNSTimeout},
		Delivery:        Delivery{Mailbox: "/var/mail/{domain}/{user}/", DeliveryRemote: DefaultDeliveryRemote(), DeliveryRoute: DefaultDeliveryRoute()},
		Limits:          defaultLimits(),
		RateLimit:       defaultRateLimit(),
		Admin:           Admin{Address: DefaultAdminAddress},
		Log:             Log{Format: "text"},
		Alert:           defaultAlert(),
		SPF:             defaultSPF(),
		DKIM:            defaultDKIM(),
		DMARC:           defaultDMARC(),
		Local:           defaultLocal(DefaultLocalSocket),
		SenderLogin:     defaultSenderLogin(),
		Sandbox:         defaultSandbox(),
		MTASTS:          defaultMTASTS(),
		ARC:             defaultARC(),
		LDAPMaps:        defaultLDAPMaps(),
		PostgresMaps:    defaultPostgresMaps(),
		PostgresUsers:   defaultPostgresUsers(),
	}
}

// defaultListeners are the standard ports on every address, for a file
// without [[listener]] tables.
func defaultListeners() []Listener {
	return []Listener{
		{Address: ":25", Mode: ModeMTA},
		{Address: ":587", Mode: ModeSubmission},
		{Address: ":465", Mode: ModeSMTPS},
	}
}
