package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/history"
	"postern/internal/summary"
	"postern/internal/testenv"
)

// The server keeps its history under data_dir/history, owned by the
// service user; the file grows with the mail it counts and is saved at
// shutdown; with a short [summary] period a summary with the counts
// reaches the postmaster's mailbox.
func TestHistoryAndSummaryMail(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.9/32"}, Extra: "[summary]\nperiod = \"3s\"\n"})
	s.addUser("bob@example.test", "pw-bob")
	s.addUser("postmaster@example.test", "pw-pm")
	// The sends and the summary that counts them stay in one minute.
	if sec := time.Now().Second(); sec > 35 {
		time.Sleep(time.Duration(61-sec) * time.Second)
	}
	s.start()
	file := filepath.Join(s.dir, "data", "history", history.FileName)
	var first os.FileInfo
	deadline := time.Now().Add(10 * time.Second)
	for first == nil && time.Now().Before(deadline) {
		first, _ = os.Stat(file)
		time.Sleep(50 * time.Millisecond)
	}
	if first == nil {
		t.Fatalf("no history file at start\n%s", s.logs())
	}
	if os.Geteuid() == 0 && first.Sys().(*syscall.Stat_t).Uid == 0 {
		t.Errorf("%s belongs to root, not the service user", file)
	}

	for i := 0; i < 3; i++ {
		out, err := exec.Command(swaks, "--server", s.MTA, "--from", "sender@remote.test", "--to", "bob@example.test",
			"--body", "history").CombinedOutput()
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
	}
	// A relay attempt: refused, counted under relay.
	if out, err := exec.Command(swaks, "--server", s.MTA, "--from", "sender@remote.test", "--to", "victim@elsewhere.test",
		"--quit-after", "RCPT").CombinedOutput(); err == nil && !strings.Contains(string(out), "<** 5") {
		t.Fatalf("relay not refused:\n%s", out)
	}
	if got := s.waitMaildir("bob@example.test", 3, 10*time.Second); len(got) != 3 {
		t.Fatalf("delivered %d of 3", len(got))
	}

	accepted := regexp.MustCompile(`(?m)^  accepted +3\r?$`)
	relay := regexp.MustCompile(`(?m)^    relay +1\r?$`)
	var found string
	deadline = time.Now().Add(15 * time.Second)
	for found == "" && time.Now().Before(deadline) {
		for _, m := range s.maildir("postmaster@example.test") {
			if strings.Contains(m, "Subject: [postern] periodic summary of") && accepted.MatchString(m) && relay.MatchString(m) {
				found = m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if found == "" {
		t.Fatalf("no summary with the counts; postmaster has %q\n%s", s.maildir("postmaster@example.test"), s.logs())
	}
	for _, want := range []string{"Queue now:", "Alerts in force: none", "DMARC aggregate reports received for the period: 0", "New failing sources: none"} {
		if !strings.Contains(found, want) {
			t.Errorf("summary lacks %q:\n%s", want, found)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", "history", summary.SentFile)); err != nil {
		t.Errorf("no record of the summaries sent: %v", err)
	}

	s.stop()
	last, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if last.Size() <= first.Size() {
		t.Errorf("history did not grow: %d bytes at start, %d at the end", first.Size(), last.Size())
	}
	if out, err := s.postern("", "check"); err != nil {
		t.Errorf("postern check after the run: %v\n%s", err, out)
	}

	// A restart reads the history back and sends no period twice.
	before := len(s.maildir("postmaster@example.test"))
	s.start()
	s.waitMaildir("postmaster@example.test", before+1, 10*time.Second)
	s.stop()
	if strings.Contains(s.logs(), "history: ") {
		t.Errorf("the history did not read back:\n%s", s.logs())
	}
	periods := map[string]int{}
	period := regexp.MustCompile(`(?m)^Postern on mx\.example\.test, from .* UTC\.`)
	for _, m := range s.maildir("postmaster@example.test") {
		if p := period.FindString(m); p != "" {
			periods[p]++
		}
	}
	for p, n := range periods {
		if n > 1 {
			t.Errorf("sent %d times: %s", n, p)
		}
	}
	if len(periods) <= before {
		t.Errorf("%d periods sent, %d before the restart", len(periods), before)
	}
}
