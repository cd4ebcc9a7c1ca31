package maps

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func loadAliases(t *testing.T, dir, s string) *Aliases {
	t.Helper()
	path := filepath.Join(dir, "aliases")
	writeFile(t, path, s)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := ParseAliases(path, f)
	if err != nil {
		t.Fatalf("ParseAliases: %v", err)
	}
	return a
}

// summary renders targets as "kind:value" for comparison.
func summary(x Expansion) string {
	var parts []string
	for _, t := range x.Targets {
		switch t.Kind {
		case TargetError:
			parts = append(parts, "error:"+t.Err.Error())
		default:
			v := t.Kind.String() + ":" + t.Value
			if t.Literal {
				v = "local:\\" + t.Value
			}
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

const testAliases = `# sendmail aliases
postmaster: root
MAILER-DAEMON: postmaster
root: alice, bob@example.org
staff: alice,
	bob@example.org,   carol
  , dave
eric: eric, eric@other.example
self2: \self2, x@y.example
loopa: loopb
loopb: loopc
loopc: loopa
archive: /var/mail/archive
prog: "|/usr/bin/procmail -a x,y"
prog2: |/usr/bin/vacation eric
list: :include:list.txt
owner-list: listadmin
abslist: :include:LISTPATH
incloop: :include:loop.txt
missing: :include:nowhere.txt
dups: alice, Alice, staff, bob@EXAMPLE.org
named: Carol Smith <carol@example.net>
viaours: root@ours.example, zed@ours.example
spaced: a b c
`

func TestAliasesExpand(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "abs.txt")
	writeFile(t, filepath.Join(dir, "list.txt"), "# members\nfrank, grace@example.org\nhenry\n")
	writeFile(t, abs, "ivan@example.org\n")
	writeFile(t, filepath.Join(dir, "loop.txt"), "incloop\n")
	a := loadAliases(t, dir, strings.Replace(testAliases, "LISTPATH", abs, 1))

	deny := ExpandOptions{}
	allow := ExpandOptions{AllowFiles: true, AllowCommands: true}
	ours := ExpandOptions{IsLocal: func(d string) bool { return d == "ours.example" }}
	tests := []struct {
		name string
		opt  ExpandOptions
		want string
	}{
		{"postmaster", deny, "local:alice address:bob@example.org"},
		{"Postmaster", deny, "local:alice address:bob@example.org"},
		{"mailer-daemon", deny, "local:alice address:bob@example.org"},
		{"staff", deny, "local:alice address:bob@example.org local:carol local:dave"},
		{"eric", deny, `local:\eric address:eric@other.example`},
		{"self2", deny, `local:\self2 address:x@y.example`},
		{"loopa", deny, "error:alias loop: loopa -> loopb -> loopc -> loopa"},
		{"archive", deny, "error:target type not allowed: file /var/mail/archive (aliases line 13)"},
		{"archive", allow, "file:/var/mail/archive"},
		{"prog", allow, "command:/usr/bin/procmail -a x,y"},
		{"prog2", allow, "command:/usr/bin/vacation eric"},
		{"list", deny, "local:frank address:grace@example.org local:henry"},
		{"abslist", deny, "address:ivan@example.org"},
		{"incloop", deny, fmt.Sprintf("error:alias loop: incloop -> :include:%s -> incloop", filepath.Join(dir, "loop.txt"))},
		{"dups", deny, "local:alice address:bob@example.org local:carol local:dave"},
		{"named", deny, "address:carol@example.net"},
		{"viaours", ours, "local:alice address:bob@example.org address:zed@ours.example"},
		{"viaours", deny, "address:root@ours.example address:zed@ours.example"},
		{"spaced", deny, "local:a local:b local:c"},
	}
	for _, tt := range tests {
		x := a.Expand(tt.name, tt.opt)
		if !x.Found {
			t.Errorf("Expand(%q) not found", tt.name)
			continue
		}
		if got := summary(x); got != tt.want {
			t.Errorf("Expand(%q):\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
	if x := a.Expand("nobody", deny); x.Found || len(x.Targets) != 0 {
		t.Errorf("Expand(nobody) = %+v", x)
	}
}

func TestAliasesDetails(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "list.txt"), "frank\n")
	a := loadAliases(t, dir, strings.Replace(testAliases, "LISTPATH", "/nonexistent", 1))

	x := a.Expand("list", ExpandOptions{})
	for _, tg := range x.Targets {
		if tg.Owner != "owner-list" {
			t.Errorf("target %s owner %q, want owner-list", tg.Value, tg.Owner)
		}
		if len(tg.Chain) != 2 || tg.Chain[0] != "list" {
			t.Errorf("chain %v", tg.Chain)
		}
		if tg.Source.Line != 1 || !strings.HasSuffix(tg.Source.File, "list.txt") {
			t.Errorf("include target source %v", tg.Source)
		}
	}
	x = a.Expand("missing", ExpandOptions{})
	if errs := x.Errors(); len(errs) != 1 || !errs[0].Temporary || !errors.Is(errs[0].Err, os.ErrNotExist) {
		t.Errorf("missing include: %+v", x.Targets)
	}
	x = a.Expand("list", ExpandOptions{NoIncludes: true})
	if errs := x.Errors(); len(errs) != 1 || !errors.Is(errs[0].Err, ErrTargetNotAllowed) {
		t.Errorf("NoIncludes: %+v", x.Targets)
	}
	x = a.Expand("loopb", ExpandOptions{})
	if errs := x.Errors(); len(errs) != 1 || !errors.Is(errs[0].Err, ErrAliasLoop) {
		t.Errorf("loop: %+v", x.Targets)
	}
	// The root entry's line number is the line holding the name.
	if al, ok := a.Lookup("staff"); !ok || al.Source.Line != 5 || len(al.Targets) != 4 {
		t.Errorf("staff = %+v", al)
	}
}

func TestAliasesDepth(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 15; i++ {
		fmt.Fprintf(&b, "a%d: a%d\n", i, i+1)
	}
	b.WriteString("a15: final\n")
	a := loadAliases(t, t.TempDir(), b.String())
	x := a.Expand("a0", ExpandOptions{})
	if errs := x.Errors(); len(errs) != 1 || !errors.Is(errs[0].Err, ErrAliasDepth) {
		t.Errorf("depth 15 with default limit: %s", summary(x))
	}
	x = a.Expand("a0", ExpandOptions{MaxDepth: 20})
	if summary(x) != "local:final" {
		t.Errorf("depth 15 with limit 20: %s", summary(x))
	}
	x = a.Expand("a10", ExpandOptions{})
	if summary(x) != "local:final" {
		t.Errorf("depth 6: %s", summary(x))
	}
}

func TestAliasesErrors(t *testing.T) {
	in := `good: alice
  continued, without, name
no colon here
bad name: x
: empty
quoted: "unterminated
empty:
good: again
cmd: |
addr: user@bad..domain
inc: :include:
`
	_, err := ParseAliases("aliases", strings.NewReader(in))
	var pe ParseErrors
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	// line 2 continues "good" (legal); the rest are errors
	want := []int{3, 4, 5, 6, 7, 8, 9, 10, 11}
	if len(pe) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(pe), len(want), err)
	}
	for i, l := range want {
		if pe[i].Line != l {
			t.Errorf("error %d line %d, want %d: %s", i, pe[i].Line, l, pe[i].Msg)
		}
	}
	_, err = ParseAliases("aliases", strings.NewReader("# c\n  orphan continuation\n"))
	if err == nil || !strings.Contains(err.Error(), "aliases:2: continuation line") {
		t.Errorf("orphan continuation: %v", err)
	}
}

func TestAliasesQuotedLocalPart(t *testing.T) {
	a := loadAliases(t, t.TempDir(), "js: \"john smith\"@example.com, \"quoted name\"\n")
	x := a.Expand("js", ExpandOptions{})
	if got := summary(x); got != `address:"john smith"@example.com local:quoted name` {
		t.Errorf("got %s", got)
	}
}

// Lists nested ten deep with a fan-out of eight would mean 8^10 paths if
// each were walked; each list is expanded once.
func TestAliasesNoExponentialExpansion(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 9; i++ {
		fmt.Fprintf(&b, "l%d: ", i)
		for j := 0; j < 8; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "l%d", i+1)
		}
		fmt.Fprintf(&b, ", u%d\n", i)
	}
	b.WriteString("l9: end\n")
	a := loadAliases(t, t.TempDir(), b.String())
	x := a.Expand("l0", ExpandOptions{})
	if got := len(x.Targets); got != 10 || len(x.Errors()) != 0 {
		t.Errorf("got %d targets: %s", got, summary(x))
	}
	// A list reached twice through different branches is not a loop.
	a = loadAliases(t, t.TempDir(), "top: x, y\nx: shared\ny: shared\nshared: alice\n")
	if got := summary(a.Expand("top", ExpandOptions{})); got != "local:alice" {
		t.Errorf("diamond: %s", got)
	}
}

func TestAliasIncludes(t *testing.T) {
	a, err := ParseAliases("/etc/mail/aliases", strings.NewReader("staff: :include:lists/staff\nall: bob, :include:/srv/lists/all\nroot: admin\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := a.Includes()
	if len(got) != 2 || got[0].Value != "/etc/mail/lists/staff" || got[0].Source.Line != 1 || got[1].Value != "/srv/lists/all" {
		t.Errorf("Includes = %+v", got)
	}
	var none *Aliases
	if none.Includes() != nil {
		t.Error("nil aliases have includes")
	}
}
