// Package cliflags parses postern's command lines: the flag package's
// flags, which may come before and after the positional arguments
// ("postern user add -config f a@b" and "postern user add a@b -config f"
// mean the same), and the exit status a usage error means.
package cliflags

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// New starts a command's flag set: errors and usage go to errw, the
// usage text is printed above the flags.
func New(name, usage string, errw io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(errw)
	fs.Usage = func() {
		fmt.Fprintln(errw, usage)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses fs from args, allowing flags before and after the
// positional arguments; "--" ends flag parsing. It returns the positional
// arguments, or an error already reported on the flag set's output
// (flag.ErrHelp after -h).
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// ParseN parses the flags and checks the number of positional arguments
// (at least min, at most max; max < 0: no limit). When done is true the
// command returns code at once: 0 after -h, 2 after a usage error
// (already reported).
func ParseN(fs *flag.FlagSet, args []string, min, max int) (pos []string, code int, done bool) {
	pos, err := Parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, 0, true
	}
	if err != nil {
		return nil, 2, true
	}
	if len(pos) < min || max >= 0 && len(pos) > max {
		fs.Usage()
		return nil, 2, true
	}
	return pos, 0, false
}

// StringList is a repeatable string flag.
type StringList []string

func (s *StringList) String() string     { return strings.Join(*s, ",") }
func (s *StringList) Set(v string) error { *s = append(*s, v); return nil }
