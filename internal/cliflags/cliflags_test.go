package cliflags

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		args   []string
		config string
		force  bool
		pos    []string
	}{
		{nil, "", false, nil},
		{[]string{"add", "-config", "f", "a@b"}, "f", false, []string{"add", "a@b"}},
		{[]string{"add", "a@b", "-config", "f", "-force"}, "f", true, []string{"add", "a@b"}},
		{[]string{"-force", "--", "-config", "x"}, "", true, []string{"-config", "x"}},
		{[]string{"a", "--", "b", "-force"}, "", false, []string{"a", "b", "-force"}},
		{[]string{"a", "-", "b"}, "", false, []string{"a", "-", "b"}},
	} {
		var errw bytes.Buffer
		fs := New("t", "usage: t", &errw)
		config := fs.String("config", "", "")
		force := fs.Bool("force", false, "")
		pos, err := Parse(fs, c.args)
		if err != nil || *config != c.config || *force != c.force || !reflect.DeepEqual(pos, c.pos) {
			t.Errorf("%q: %q %v %q %v", c.args, *config, *force, pos, err)
		}
	}
}

func TestParseN(t *testing.T) {
	run := func(min, max int, args ...string) (int, bool, string) {
		var errw bytes.Buffer
		fs := New("t", "usage: t ARG", &errw)
		fs.String("config", "", "")
		_, code, done := ParseN(fs, args, min, max)
		return code, done, errw.String()
	}
	if code, done, _ := run(1, 1, "a", "-config", "x"); code != 0 || done {
		t.Errorf("one argument: %d %v", code, done)
	}
	if code, done, out := run(1, 1); code != 2 || !done || !strings.HasPrefix(out, "usage: t ARG\n") {
		t.Errorf("none: %d %v %q", code, done, out)
	}
	if code, done, _ := run(0, -1, "a", "b", "c"); code != 0 || done {
		t.Errorf("no limit: %d %v", code, done)
	}
	if code, done, _ := run(0, 0, "-h"); code != 0 || !done {
		t.Errorf("-h: %d %v", code, done)
	}
	if code, done, out := run(0, 0, "-bogus"); code != 2 || !done || !strings.Contains(out, "bogus") {
		t.Errorf("unknown flag: %d %v %q", code, done, out)
	}
}

func TestStringList(t *testing.T) {
	var s StringList
	s.Set("a")
	s.Set("b")
	if s.String() != "a,b" {
		t.Errorf("%q", s.String())
	}
}
