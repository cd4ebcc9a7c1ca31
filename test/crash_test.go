package test

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Many concurrent senders, kill -9 in the middle, restart: every message
// that got a 250 is delivered exactly once, and no message twice.
func TestCrashLosesNothingAndDuplicatesNothing(t *testing.T) {
	s := newServer(t, serverConfig{})
	s.addUser("alice@example.test", "pw")
	s.start()

	const senders = 12
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				subject := fmt.Sprintf("crash-%d-%d", g, i)
				if !sendOne(s.MTA, subject) {
					return // the server died under us
				}
				mu.Lock()
				acked[subject] = true
				mu.Unlock()
			}
		}(g)
	}
	// Let mail flow, then crash in the middle of it.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 150 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	close(stop)
	wg.Wait()
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	t.Logf("%d messages acknowledged before the crash", want)

	s.start()
	subjectRE := regexp.MustCompile(`(?m)^Subject: (crash-\d+-\d+)\r?$`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen := map[string]int{}
		for _, m := range s.maildir("alice@example.test") {
			if sm := subjectRE.FindStringSubmatch(m); sm != nil {
				seen[sm[1]]++
			}
		}
		missing := 0
		for subj := range acked {
			if seen[subj] == 0 {
				missing++
			}
		}
		for subj, n := range seen {
			if n > 1 {
				t.Fatalf("%s delivered %d times", subj, n)
			}
		}
		if missing == 0 {
			t.Logf("all %d acknowledged messages delivered once (%d delivered in all)", want, len(seen))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages never delivered\n%s", missing, want, s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sendOne sends one message over a fresh connection and reports whether
// the server said 250 to its DATA.
func sendOne(addr, subject string) bool {
	c, err := rawDial(addr)
	if err != nil {
		return false
	}
	defer c.close()
	steps := []struct {
		line string
		code int
	}{
		{"EHLO crash.test", 250},
		{"MAIL FROM:<load@elsewhere.test>", 250},
		{"RCPT TO:<alice@example.test>", 250},
		{"DATA", 354},
		{"Subject: " + subject + "\r\n\r\n" + strings.Repeat("payload line\r\n", 40) + ".", 250},
	}
	for _, st := range steps {
		code, err := c.cmd(st.line)
		if err != nil || code != st.code {
			return false
		}
	}
	c.cmd("QUIT")
	return true
}
